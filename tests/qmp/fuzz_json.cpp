// libFuzzer target: the JSON parser and the QMP stream splitter on arbitrary bytes. Whatever
// parses must serialize and parse back to the same value.
#include "app/qmp/Json.h"

#include <cstdlib>
#include <string_view>

using namespace e2kvm::qmp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    JsonLimits limits;
    limits.maxDepth = 64;
    try {
        Json j = parseJson(text, limits);
        std::string again = j.serialize();
        Json k = parseJson(again, JsonLimits{});
        if (!(k == j) || k.serialize() != again)
            std::abort();
    } catch (const JsonError&) {
    }
    JsonStreamSplitter splitter(4096);
    size_t half = size / 2;
    auto a = splitter.feed(text.substr(0, half));
    auto b = splitter.feed(text.substr(half));
    for (const auto* pieces : {&a, &b})
        for (const auto& p : *pieces)
            if (p.text.size() > 4096 + 1)
                std::abort();
    return 0;
}
