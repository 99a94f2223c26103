# A production configuration: bbolt storage, a TLS listener, and the root
# key protected by unseal key shares (the default seal, written out).
storage "bolt" {
  path = "/var/lib/arca/arca.db"
}

seal "shamir" {}

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/etc/arca/tls.crt"
  tls_key_file  = "/etc/arca/tls.key"
}

api_addr      = "https://arca.example.com:8200"
disable_mlock = false
log_level     = "warn"
