#pragma once
// NBD wire constants (fixed newstyle handshake, transmission phase, meta contexts) and
// big-endian encode/decode helpers shared by the server and the client.
#include <cstdint>
#include <string>
#include <vector>

namespace e2kvm::nbd {

constexpr uint64_t kInitMagic = 0x4e42444d41474943ULL; // "NBDMAGIC"
constexpr uint64_t kOptMagic = 0x49484156454F5054ULL;  // "IHAVEOPT"
// The oldstyle handshake's second magic: size and flags follow at once, with no options.
constexpr uint64_t kOldstyleMagic = 0x00420281861253ULL;
constexpr uint64_t kOptReplyMagic = 0x0003e889045565a9ULL;
constexpr uint32_t kRequestMagic = 0x25609513;
constexpr uint32_t kSimpleReplyMagic = 0x67446698;
constexpr uint32_t kStructuredReplyMagic = 0x668e33ef;

constexpr uint16_t kFlagFixedNewstyle = 1;
constexpr uint16_t kFlagNoZeroes = 2;
constexpr uint32_t kClientFixedNewstyle = 1;
constexpr uint32_t kClientNoZeroes = 2;

enum Option : uint32_t {
    OptExportName = 1,
    OptAbort = 2,
    OptList = 3,
    OptPeekExport = 4,
    OptStartTls = 5,
    OptInfo = 6,
    OptGo = 7,
    OptStructuredReply = 8,
    OptListMetaContext = 9,
    OptSetMetaContext = 10,
    OptExtendedHeaders = 11,
};

constexpr uint32_t kRepErrBit = 0x80000000u;
enum OptionReply : uint32_t {
    RepAck = 1,
    RepServer = 2,
    RepInfo = 3,
    RepMetaContext = 4,
    RepErrUnsup = kRepErrBit + 1,
    RepErrPolicy = kRepErrBit + 2,
    RepErrInvalid = kRepErrBit + 3,
    RepErrPlatform = kRepErrBit + 4,
    RepErrTlsReqd = kRepErrBit + 5,
    RepErrUnknown = kRepErrBit + 6,
    RepErrShutdown = kRepErrBit + 7,
    RepErrBlockSizeReqd = kRepErrBit + 8,
    RepErrTooBig = kRepErrBit + 9,
};

enum InfoType : uint16_t {
    InfoExport = 0,
    InfoName = 1,
    InfoDescription = 2,
    InfoBlockSize = 3,
};

enum TransmissionFlag : uint16_t {
    TfHasFlags = 0x0001,
    TfReadOnly = 0x0002,
    TfSendFlush = 0x0004,
    TfSendFua = 0x0008,
    TfRotational = 0x0010,
    TfSendTrim = 0x0020,
    TfSendWriteZeroes = 0x0040,
    TfSendDf = 0x0080,
    TfCanMultiConn = 0x0100,
    TfSendResize = 0x0200,
    TfSendCache = 0x0400,
    TfSendFastZero = 0x0800,
};

enum Command : uint16_t {
    CmdRead = 0,
    CmdWrite = 1,
    CmdDisc = 2,
    CmdFlush = 3,
    CmdTrim = 4,
    CmdCache = 5,
    CmdWriteZeroes = 6,
    CmdBlockStatus = 7,
};

enum CommandFlag : uint16_t {
    CmdFlagFua = 1,
    CmdFlagNoHole = 2,
    CmdFlagDf = 4,
    CmdFlagReqOne = 8,
    CmdFlagFastZero = 16,
};

enum ReplyChunkType : uint16_t {
    ChunkNone = 0,
    ChunkOffsetData = 1,
    ChunkOffsetHole = 2,
    ChunkBlockStatus = 5,
    ChunkError = 0x8001,
    ChunkErrorOffset = 0x8002,
};
constexpr uint16_t kReplyFlagDone = 1;

constexpr uint32_t StateHole = 1;  // base:allocation
constexpr uint32_t StateZero = 2;  // base:allocation
constexpr uint32_t StateDirty = 1; // qemu:dirty-bitmap:NAME

enum WireErrno : uint32_t {
    NbdEperm = 1,
    NbdEio = 5,
    NbdEnomem = 12,
    NbdEinval = 22,
    NbdEnospc = 28,
    NbdEoverflow = 75,
    NbdEnotsup = 95,
    NbdEshutdown = 108,
};

constexpr uint32_t kMaxPayload = 32u << 20; // largest READ/WRITE/CACHE accepted
constexpr uint32_t kMaxStringSize = 4096;   // export names, descriptions, context names
constexpr uint32_t kMaxOptionLength = 32u << 20;
constexpr uint16_t kDefaultPort = 10809;

// Maps a host errno (from the block layer) to the value sent on the wire.
uint32_t errnoToWire(int err);
// Maps a wire error value back to a host errno (unknown values become EINVAL).
int wireToErrno(uint32_t value);
// "read", "write zeroes", ... as used in log and error messages.
const char* commandName(uint16_t type);
// "go", "list meta context", ... or "<unknown>".
const char* optionName(uint32_t option);

// Appends big-endian integers and raw bytes to a byte vector.
struct WireWriter {
    std::vector<uint8_t> bytes;
    void u8(uint8_t v) { bytes.push_back(v); }
    void u16(uint16_t v) {
        bytes.push_back(uint8_t(v >> 8));
        bytes.push_back(uint8_t(v));
    }
    void u32(uint32_t v) {
        u16(uint16_t(v >> 16));
        u16(uint16_t(v));
    }
    void u64(uint64_t v) {
        u32(uint32_t(v >> 32));
        u32(uint32_t(v));
    }
    void str(const std::string& s) { bytes.insert(bytes.end(), s.begin(), s.end()); }
    void raw(const uint8_t* p, size_t n) { bytes.insert(bytes.end(), p, p + n); }
};

inline uint16_t getU16(const uint8_t* p) {
    return uint16_t((p[0] << 8) | p[1]);
}
inline uint32_t getU32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t getU64(const uint8_t* p) {
    return (uint64_t(getU32(p)) << 32) | getU32(p + 4);
}
inline void putU16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline void putU32(uint8_t* p, uint32_t v) {
    putU16(p, uint16_t(v >> 16));
    putU16(p + 2, uint16_t(v));
}
inline void putU64(uint8_t* p, uint64_t v) {
    putU32(p, uint32_t(v >> 32));
    putU32(p + 4, uint32_t(v));
}

} // namespace e2kvm::nbd
