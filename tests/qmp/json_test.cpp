// Json: parsing (strict, limits, hostile inputs), serialization in QMP's style, the stream
// splitter that frames a QMP socket.
#include "app/qmp/Json.h"

#include <gtest/gtest.h>

#include <random>

using e2kvm::qmp::Json;
using e2kvm::qmp::JsonError;
using e2kvm::qmp::JsonLimits;
using e2kvm::qmp::JsonStreamSplitter;
using e2kvm::qmp::parseJson;

TEST(Json, ParsesAndSerializesQmpStyle) {
    Json j = parseJson(R"( {"execute": "x", "arguments": {"a": [1, -2, 3.5, true, null, "s"]}} )");
    EXPECT_EQ(j.find("execute")->asString(), "x");
    EXPECT_EQ(j.serialize(),
              R"({"execute": "x", "arguments": {"a": [1, -2, 3.5, true, null, "s"]}})");
    EXPECT_EQ(Json::object().serialize(), "{}");
    EXPECT_EQ(Json::array().serialize(), "[]");
}

TEST(Json, SingleQuotedStringsAsQemuAccepts) {
    Json j = parseJson("{ 'execute': 'qmp_capabilities', 'x': 'it\\'s \"q\"' }");
    EXPECT_EQ(j.find("execute")->asString(), "qmp_capabilities");
    EXPECT_EQ(j.find("x")->asString(), "it's \"q\"");
}

TEST(Json, Numbers) {
    EXPECT_EQ(parseJson("9223372036854775807").asInt(), INT64_MAX);
    EXPECT_EQ(parseJson("-9223372036854775808").asInt(), INT64_MIN);
    EXPECT_EQ(parseJson("18446744073709551615").asUInt(), UINT64_MAX);
    EXPECT_EQ(parseJson("18446744073709551615").serialize(), "18446744073709551615");
    EXPECT_EQ(parseJson("18446744073709551616").type(), Json::Type::Double);
    EXPECT_THROW(parseJson("-1").asUInt(), JsonError);
    EXPECT_THROW(parseJson("1.5").asInt(), JsonError);
    EXPECT_EQ(parseJson("1e2").asDouble(), 100.0);
    EXPECT_EQ(Json(2.0).serialize(), "2.0");
    for (const char* bad :
         {"01", "1.", ".5", "-", "1e", "+1", "1e+", "0x10", "1e999", "NaN", "Infinity", "--1"})
        EXPECT_THROW(parseJson(bad), JsonError) << bad;
}

TEST(Json, StringsAndUnicode) {
    EXPECT_EQ(parseJson(R"("\u00e9\ud83d\ude00\n\t\/")").asString(),
              "\xc3\xa9\xf0\x9f\x98\x80\n\t/");
    std::string out;
    e2kvm::qmp::appendJsonString(out, "\xc3\xa9\xf0\x9f\x98\x80\x01\"\\");
    EXPECT_EQ(out, R"("\u00E9\uD83D\uDE00\u0001\"\\")");
    out.clear();
    e2kvm::qmp::appendJsonString(out, "a\xff"
                                      "b\xc0\x80");
    EXPECT_EQ(out, R"("a\uFFFDb\u0000")");
    for (const char* bad :
         {R"("\ud800")", R"("\udc00")", R"("\ud800\u0041")", R"("\x")", R"("\u12")", R"("\u0000")",
          "\"a\nb\"", "\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"abc", "'abc\""})
        EXPECT_THROW(parseJson(bad), JsonError) << bad;
}

TEST(Json, RejectsMalformed) {
    for (const char* bad : {"", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}",
                            "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]", "tru", "nul", "truex",
                            "{\"a\":1,\"a\":2}", "{} {}", "[]]", "\"a\" x"})
        EXPECT_THROW(parseJson(bad), JsonError) << bad;
}

TEST(Json, Limits) {
    std::string deep(200, '[');
    deep += std::string(200, ']');
    EXPECT_THROW(parseJson(deep), JsonError);
    std::string ok(100, '[');
    ok += std::string(100, ']');
    EXPECT_NO_THROW(parseJson(ok));
    // Very deep hostile input fails cleanly (no stack overflow).
    std::string huge(1 << 20, '[');
    EXPECT_THROW(parseJson(huge), JsonError);
    JsonLimits small;
    small.maxBytes = 10;
    EXPECT_THROW(parseJson("[1, 2, 3, 4, 5]", small), JsonError);
    small = JsonLimits{};
    small.maxElements = 3;
    EXPECT_THROW(parseJson("[1, 2, 3]", small), JsonError);
    EXPECT_NO_THROW(parseJson("[1, 2]", small));
}

TEST(Json, RandomGarbageNeverCrashes) {
    std::mt19937 rng(1234);
    const std::string alphabet = "{}[]\":,'\\ 0123456789-+.eEtrufalsn\n\x80\xff";
    for (int i = 0; i < 20000; ++i) {
        std::string s;
        size_t len = rng() % 40;
        for (size_t k = 0; k < len; ++k)
            s += alphabet[rng() % alphabet.size()];
        try {
            Json j = parseJson(s);
            // Whatever parses must survive a round trip.
            EXPECT_EQ(parseJson(j.serialize()), j) << s;
        } catch (const JsonError&) {
        }
    }
}

TEST(JsonStreamSplitter, FramesObjectsAcrossChunks) {
    JsonStreamSplitter sp;
    auto a = sp.feed("{\"execute\": \"a\", \"x\": \"}{\"");
    EXPECT_TRUE(a.empty());
    auto b = sp.feed("}{'execute':'b'}\n  [1]");
    ASSERT_EQ(b.size(), 3u);
    EXPECT_EQ(b[0].text, "{\"execute\": \"a\", \"x\": \"}{\"}");
    EXPECT_EQ(b[1].text, "{'execute':'b'}");
    EXPECT_EQ(b[2].text, "[1]");
    auto c = sp.feed("42\n}\n");
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].text, "42");
    EXPECT_EQ(c[1].text, "}");
}

TEST(JsonStreamSplitter, OversizedInputIsSkippedToNewline) {
    JsonStreamSplitter sp(100);
    auto a = sp.feed("{\"a\": \"" + std::string(200, 'x'));
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(a[0].tooLarge);
    auto b = sp.feed(std::string(50, 'y') + "\"}\n{\"ok\": 1}");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].text, "{\"ok\": 1}");
}
