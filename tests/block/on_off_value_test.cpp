// onOffValue and the option readers built on it take QEMU's eight boolean spellings (its
// qapi_bool_parse), case-sensitively, and nothing else.
#include "block/BlockError.h"
#include "block/ImageOptions.h"
#include "block/OnOffValue.h"

#include <gtest/gtest.h>

using namespace e2kvm::block;

TEST(OnOffValue, TakesQemusSpellings) {
    for (const char* on : {"on", "yes", "true", "y"})
        EXPECT_EQ(onOffValue(on), std::optional<bool>(true)) << on;
    for (const char* off : {"off", "no", "false", "n"})
        EXPECT_EQ(onOffValue(off), std::optional<bool>(false)) << off;
    for (const char* bad : {"", "ON", "1", "0", "enable", "onn", " on"})
        EXPECT_EQ(onOffValue(bad), std::nullopt) << bad;
}

TEST(OnOffValue, BooleanOptionNamesTheKeyOfABadValue) {
    DriverOptions options{{"read-zeroes", "n"}, {"cache.direct", "maybe"}};
    EXPECT_FALSE(booleanOption(options, "read-zeroes", true));
    EXPECT_TRUE(booleanOption(options, "absent", true));
    try {
        booleanOption(options, "cache.direct", false);
        FAIL() << "accepted 'maybe'";
    } catch (const BlockError& e) {
        EXPECT_STREQ(e.what(), "Parameter 'cache.direct' expects 'on' or 'off'");
        EXPECT_EQ(e.errnoValue(), EINVAL);
    }
}
