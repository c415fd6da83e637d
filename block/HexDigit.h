#pragma once
// hexDigitValue: the value of one hexadecimal digit, or -1 (percent escapes in nbd:// and
// ssh:// URLs, host key hashes).
namespace e2kvm::block {

inline int hexDigitValue(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace e2kvm::block
