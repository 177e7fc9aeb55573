#ifndef LEEN_HEALTHD_CCRYPTO_SHIM_H
#define LEEN_HEALTHD_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto: the credential fingerprints' HMAC (Healthd/CredentialFingerprint.swift) and the
   basic-auth cache's SHA-256 (HealthdMetrics/SHA256.swift). TLS itself is NIOSSL's BoringSSL. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
