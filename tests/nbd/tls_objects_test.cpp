// TlsObjects: QEMU's tls-creds-x509 / authz-simple objects by id, and the server settings a
// choice of them gives, with QEMU's wording for every refusal.
#include "nbd/TlsObjects.h"

#include <functional>
#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

using e2kvm::nbd::TlsObjects;

namespace {

std::string errorOf(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

TEST(TlsObjects, SettingsFromCredentialsAndAuthz) {
    TlsObjects o;
    o.addCredentials("tls0", "/pki/server", true, true);
    o.addAuthz("auth0", "C=AQ,O=Example\\, Inc.,CN=client2");
    auto s = o.serverSettings("tls0", std::nullopt);
    EXPECT_EQ(s.dir, "/pki/server");
    EXPECT_TRUE(s.verifyPeer);
    EXPECT_FALSE(s.allowedClientDn);
    s = o.serverSettings("tls0", std::string("auth0"));
    ASSERT_TRUE(s.allowedClientDn);
    EXPECT_EQ(*s.allowedClientDn, "C=AQ,O=Example\\, Inc.,CN=client2");
    EXPECT_EQ(o.credentialsDir("tls0").value_or(""), "/pki/server");
    EXPECT_FALSE(o.credentialsDir("auth0"));
}

TEST(TlsObjects, RefusalsAreWordedAsQemu) {
    TlsObjects o;
    o.addCredentials("tls0", "/pki/server", true, false);
    o.addCredentials("cli", "/pki/client", false, true);
    o.addAuthz("auth0", "CN=x");
    EXPECT_EQ(errorOf([&] { o.addAuthz("tls0", "CN=y"); }),
              "attempt to add duplicate property 'tls0' to object (type 'container')");
    EXPECT_EQ(errorOf([&] { o.addCredentials("", "/d", true, true); }),
              "Parameter 'id' is missing");
    EXPECT_EQ(errorOf([&] { o.addCredentials("t2", "", true, true); }),
              "Parameter 'dir' is missing");
    EXPECT_EQ(errorOf([&] { o.serverSettings("nope", std::nullopt); }),
              "No TLS credentials with id 'nope'");
    EXPECT_EQ(errorOf([&] { o.serverSettings("auth0", std::nullopt); }),
              "Object with id 'auth0' is not TLS credentials");
    EXPECT_EQ(errorOf([&] { o.serverSettings("cli", std::nullopt); }),
              "Expected TLS credentials for a server endpoint");
    EXPECT_EQ(errorOf([&] { o.serverSettings("tls0", std::string("nope")); }),
              "No authorization object with id 'nope' (authz-simple)");
    EXPECT_TRUE(o.remove("auth0"));
    EXPECT_FALSE(o.remove("auth0"));
    EXPECT_FALSE(o.contains("auth0"));
    EXPECT_TRUE(o.contains("tls0"));
}
