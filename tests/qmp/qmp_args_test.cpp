// QmpArgs' integer members (optUInt, optInt share one reader): the value at both ends of its
// range, and QEMU's messages for a wrong type, an out-of-range number and a nested member.
#include "app/qmp/QmpArgs.h"
#include "app/qmp/QmpError.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <string>

using namespace e2kvm::qmp;

namespace {

std::string errorOf(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const QmpError& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(QmpArgs, ReadsUnsignedAndSignedIntegers) {
    Json j = parseJson(R"({"u": 18446744073709551615, "i": -9223372036854775808, "z": 0,
                          "n": {"x": 7}})");
    QmpArgs a(&j);
    EXPECT_EQ(a.optUInt("u"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(a.optInt("i"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(a.optUInt("z"), 0u);
    EXPECT_EQ(a.optInt("missing"), std::nullopt);
    EXPECT_EQ(a.optUInt("missing too"), std::nullopt);
    QmpArgs n = a.object("n");
    EXPECT_EQ(n.optInt("x"), 7);
    n.finish();
    a.finish(); // every member was read
}

TEST(QmpArgs, IntegerErrorsUseQemusWording) {
    Json j = parseJson(R"({"neg": -1, "big": 9223372036854775808, "s": "5", "f": 1.5,
                          "n": {"x": true}})");
    QmpArgs a(&j);
    EXPECT_EQ(errorOf([&] { a.optUInt("neg"); }), "Parameter 'neg' expects uint64");
    EXPECT_EQ(errorOf([&] { a.optInt("big"); }), "Parameter 'big' expects int64");
    EXPECT_EQ(a.optUInt("big"), uint64_t(1) << 63);
    EXPECT_EQ(errorOf([&] { a.optInt("s"); }), "Invalid parameter type for 's', expected: integer");
    EXPECT_EQ(errorOf([&] { a.optUInt("f"); }),
              "Invalid parameter type for 'f', expected: integer");
    QmpArgs n = a.object("n");
    EXPECT_EQ(errorOf([&] { n.optUInt("x"); }),
              "Invalid parameter type for 'n.x', expected: integer");
}

} // namespace
