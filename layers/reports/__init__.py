"""Resident reports on the map (苦情・要望: broken streetlight, illegal dumping, road damage…), routed to the
responsible department, exposed as Open311 GeoReport v2."""
