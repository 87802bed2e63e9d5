"""The admin dashboard (GET /stats?sections=...) and the attendance export."""
