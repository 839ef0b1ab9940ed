"""Singer tap for Backstory (People.ai) Enriched Contacts via the bulk export API."""
