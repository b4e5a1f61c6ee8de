"""Usage statistics of the open data portal: views, downloads and API calls per dataset and day."""
