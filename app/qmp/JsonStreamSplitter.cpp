// JsonStreamSplitter: cuts a QMP byte stream into top-level JSON texts.
#include "app/qmp/Json.h"

namespace e2kvm::qmp {

std::vector<JsonStreamSplitter::Piece> JsonStreamSplitter::feed(std::string_view bytes) {
    std::vector<Piece> out;
    for (char c : bytes) {
        if (discarding_) {
            if (c == '\n')
                discarding_ = false;
            continue;
        }
        if (depth_ == 0 && quote_ == 0) {
            if (c == '{' || c == '[') {
                if (!current_.empty())
                    out.push_back({std::move(current_), false});
                current_.clear();
                current_ += c;
                depth_ = 1;
                continue;
            }
            if (c == '\n' || c == ' ' || c == '\t' || c == '\r') {
                if (c == '\n' && !current_.empty()) {
                    out.push_back({std::move(current_), false});
                    current_.clear();
                }
                continue;
            }
            if (c == '}' || c == ']') {
                current_ += c;
                out.push_back({std::move(current_), false});
                current_.clear();
                continue;
            }
            current_ += c; // a stray scalar: ends at the next newline
        } else {
            current_ += c;
            if (quote_) {
                if (escape_)
                    escape_ = false;
                else if (c == '\\')
                    escape_ = true;
                else if (c == quote_)
                    quote_ = 0;
            } else if (c == '"' || c == '\'') {
                quote_ = c;
            } else if (c == '{' || c == '[') {
                ++depth_;
            } else if (c == '}' || c == ']') {
                if (--depth_ == 0) {
                    out.push_back({std::move(current_), false});
                    current_.clear();
                }
            }
        }
        if (current_.size() > maxBytes_) {
            current_.clear();
            current_.shrink_to_fit();
            depth_ = 0;
            quote_ = 0;
            escape_ = false;
            discarding_ = c != '\n';
            out.push_back({{}, true});
        }
    }
    return out;
}

} // namespace e2kvm::qmp
