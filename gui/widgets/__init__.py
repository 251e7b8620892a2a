"""Small reusable widgets and items: curve paths, sortable table items, image conversion."""
