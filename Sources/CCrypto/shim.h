#ifndef LEEN_HEALTHD_CCRYPTO_SHIM_H
#define LEEN_HEALTHD_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, for the one HMAC the daemon computes (Healthd/CredentialFingerprint.swift). */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif
