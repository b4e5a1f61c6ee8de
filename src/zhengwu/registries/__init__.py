"""Base registries (基础库): population and legal entities, with history, provenance and batch ingestion."""
