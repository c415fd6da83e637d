#include "ui/panels/ExportCommands.h"

namespace e2kvm::ui {

namespace {

bool shellSafe(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_./:=,@%+-").find(c) != std::string_view::npos;
}

// A value inside a QEMU option string: a comma is written twice.
std::string optionValue(const std::string& v) {
    std::string out;
    for (char c : v) {
        out += c;
        if (c == ',')
            out += ',';
    }
    return out;
}

// Percent-encodes what may not appear in a URI path or query value.
std::string uriEscape(const std::string& v) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : v) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
        if (plain) {
            out += char(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

} // namespace

std::string shellQuote(const std::string& word) {
    if (!word.empty()) {
        bool safe = true;
        for (char c : word)
            safe = safe && shellSafe(c);
        if (safe)
            return word;
    }
    std::string out = "'";
    for (char c : word) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string exportNameForFile(const std::string& file) {
    std::string base =
        file.substr(file.find_last_of('/') == std::string::npos ? 0 : file.find_last_of('/') + 1);
    std::string out;
    for (char c : base) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out += ok ? c : '_';
    }
    if (out.empty())
        out = "disk";
    return out.substr(0, 200);
}

std::string nbdinfoUri(const ExportEndpoint& e) {
    std::string scheme = e.tlsDir.empty() ? "nbd" : "nbds";
    std::string uri;
    std::string query;
    if (!e.unixPath.empty()) {
        uri = scheme + "+unix:///" + uriEscape(e.exportName);
        query = "socket=" + uriEscape(e.unixPath);
    } else {
        std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
        uri = scheme + "://" + host + ":" + std::to_string(e.port) + "/" + uriEscape(e.exportName);
    }
    if (!e.tlsDir.empty())
        query +=
            (query.empty() ? "" : "&") + std::string("tls-certificates=") + uriEscape(e.tlsDir);
    return query.empty() ? uri : uri + "?" + query;
}

std::string qemuImgMapCommand(const ExportEndpoint& e, const std::string& bitmap) {
    std::string cmd = "qemu-img map --output=json";
    std::string opts = "driver=nbd,";
    if (!e.unixPath.empty())
        opts += "server.type=unix,server.path=" + optionValue(e.unixPath);
    else
        opts += "server.type=inet,server.host=" + optionValue(e.host) +
                ",server.port=" + std::to_string(e.port);
    opts += ",export=" + optionValue(e.exportName);
    if (!e.tlsDir.empty()) {
        cmd += " --object " +
               shellQuote("tls-creds-x509,id=tls0,endpoint=client,dir=" + optionValue(e.tlsDir));
        opts += ",tls-creds=tls0";
    }
    if (!bitmap.empty())
        opts += ",x-dirty-bitmap=qemu:dirty-bitmap:" + optionValue(bitmap);
    return cmd + " --image-opts " + shellQuote(opts);
}

std::string nbdinfoMapCommand(const ExportEndpoint& e, const std::string& bitmap) {
    std::string map = bitmap.empty() ? "--map" : "--map=qemu:dirty-bitmap:" + bitmap;
    return "nbdinfo " + shellQuote(map) + " " + shellQuote(nbdinfoUri(e));
}

std::string changedExtentsCommands(const ExportEndpoint& e,
                                   const std::vector<std::string>& bitmaps) {
    std::string out;
    if (bitmaps.empty()) {
        out += "# No bitmap exported: allocation map only\n";
        out += qemuImgMapCommand(e, {}) + "\n";
        out += nbdinfoMapCommand(e, {}) + "\n";
        return out;
    }
    for (const std::string& b : bitmaps) {
        out += "# What changed since checkpoint '" + b + "' (qemu-img: \"data\": false = dirty)\n";
        out += qemuImgMapCommand(e, b) + "\n";
        out += nbdinfoMapCommand(e, b) + "\n";
    }
    return out;
}

} // namespace e2kvm::ui
