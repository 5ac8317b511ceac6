"""The local stack: moto's server, table set-up and `chalice local`, on embedded defaults."""
