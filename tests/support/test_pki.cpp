#include "support/test_pki.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ocirelay::test {

namespace {

void run(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("openssl failed: " + command);
  }
}

void make_ca(const std::string& dir, const std::string& name) {
  run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=" +
      name + "' -keyout '" + dir + "/" + name + ".key' -out '" + dir + "/" + name + ".crt'");
}

void make_leaf(const std::string& dir, const std::string& ca, const std::string& name,
               const std::string& extensions) {
  const std::string base = dir + "/" + name;
  run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=" + name +
      "' -keyout '" + base + ".key' -out '" + base + ".csr'");
  const std::string ext_file = base + ".ext";
  std::ofstream(ext_file) << extensions << "\n";
  run("openssl x509 -req -in '" + base + ".csr' -CA '" + dir + "/" + ca + ".crt' -CAkey '" + dir +
      "/" + ca + ".key' -CAcreateserial -days 2 -extfile '" + ext_file + "' -out '" + base +
      ".crt'");
}

}  // namespace

TestPki make_test_pki(const TempDir& tmp) {
  const std::string dir = tmp.file("pki");
  std::filesystem::create_directories(dir);
  make_ca(dir, "ca");
  make_ca(dir, "rogue-ca");
  make_leaf(dir, "ca", "server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
  make_leaf(dir, "ca", "client", "extendedKeyUsage=clientAuth");
  make_leaf(dir, "rogue-ca", "rogue-server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
  make_leaf(dir, "ca", "wrong-host-server", "subjectAltName=DNS:wrong-host.example");
  TestPki pki;
  pki.ca_cert = dir + "/ca.crt";
  pki.server_cert = dir + "/server.crt";
  pki.server_key = dir + "/server.key";
  pki.client_cert = dir + "/client.crt";
  pki.client_key = dir + "/client.key";
  pki.rogue_ca_cert = dir + "/rogue-ca.crt";
  pki.rogue_server_cert = dir + "/rogue-server.crt";
  pki.rogue_server_key = dir + "/rogue-server.key";
  pki.wrong_host_server_cert = dir + "/wrong-host-server.crt";
  pki.wrong_host_server_key = dir + "/wrong-host-server.key";
  return pki;
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string output_of(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  ::pclose(pipe);
  return out;
}

}  // namespace

InstanceIdentity make_instance_identity(const TempDir& tmp, const TestPki& pki,
                                        const std::string& name, const std::string& tenancy) {
  const std::string dir = tmp.file("pki");
  std::filesystem::create_directories(dir);
  const std::string base = dir + "/" + name;
  const std::string ca_key = pki.ca_cert.substr(0, pki.ca_cert.size() - 4) + ".key";
  run("openssl req -newkey rsa:2048 -nodes -subj '/CN=ocid1.instance.oc1.eu-frankfurt-1.test/"
      "OU=opc-certtype:instance/OU=opc-instance:ocid1.instance.oc1.eu-frankfurt-1.test/"
      "OU=opc-compartment:ocid1.compartment.oc1..test/OU=opc-tenant:" +
      tenancy + "' -keyout '" + base + ".key' -out '" + base + ".csr'");
  run("openssl x509 -req -in '" + base + ".csr' -CA '" + pki.ca_cert + "' -CAkey '" + ca_key +
      "' -CAcreateserial -days 2 -out '" + base + ".crt'");
  run("openssl pkey -in '" + base + ".key' -pubout -out '" + base + ".pub'");
  InstanceIdentity id;
  id.cert_pem = slurp(base + ".crt");
  id.key_pem = slurp(base + ".key");
  id.public_key_pem = slurp(base + ".pub");
  // "SHA1 Fingerprint=AB:CD:..."
  const std::string fp = output_of("openssl x509 -in '" + base + ".crt' -noout -fingerprint -sha1");
  const auto eq = fp.find('=');
  if (eq == std::string::npos) throw std::runtime_error("openssl x509 -fingerprint failed");
  id.sha1_fingerprint = fp.substr(eq + 1, 59);
  return id;
}

}  // namespace ocirelay::test
