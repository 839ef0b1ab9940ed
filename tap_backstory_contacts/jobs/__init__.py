"""Export jobs: the model (``model``), the API calls (``api``), the ledger kept in state
(``ledger``), the look-ahead planner (``planner``) and their one owner (``keeper``)."""
