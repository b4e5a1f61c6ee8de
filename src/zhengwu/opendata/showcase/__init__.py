"""Reuse showcase (应用展示): apps, research and visualisations built on the portal's datasets."""
