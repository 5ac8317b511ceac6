"""Plain domain objects and rules: no framework or AWS imports here."""
