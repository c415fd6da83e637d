#pragma once
// The JSON vocabulary of QMP: e2kvm::json's value type and parser under QMP's namespace, and
// JsonStreamSplitter, which cuts a QMP socket's byte stream into JSON texts.
#include "app/json/Json.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace e2kvm::qmp {

using json::appendJsonString;
using json::Json;
using json::JsonError;
using json::JsonLimits;
using json::parseJson;

// Splits a byte stream into top-level JSON texts the way a QMP server reads its socket: a
// text ends when its outermost bracket closes; a stray scalar ends at a newline. Oversized
// texts are reported as errors and skipped up to the next newline.
class JsonStreamSplitter {
public:
    explicit JsonStreamSplitter(size_t maxBytes = 8u << 20) : maxBytes_(maxBytes) {}
    struct Piece {
        std::string text;
        bool tooLarge = false; // text is empty; the input was discarded
    };
    // Feeds bytes; returns the complete texts found.
    std::vector<Piece> feed(std::string_view bytes);

private:
    size_t maxBytes_;
    std::string current_;
    unsigned depth_ = 0;
    char quote_ = 0;
    bool escape_ = false;
    bool discarding_ = false;
};

} // namespace e2kvm::qmp
