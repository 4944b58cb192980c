"""What researchers read: dashboards, statistics, screening, charts, exports and rating imports."""
