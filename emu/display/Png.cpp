#include "emu/display/Png.h"

#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace e2kvm::emu {

namespace {

constexpr std::array<uint8_t, 8> kSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
constexpr uint32_t kMaxChunkLength = 0x7fffffffu; // PNG's own limit (2^31 - 1)

void putBe32(std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(uint8_t(v >> 24));
    out.push_back(uint8_t(v >> 16));
    out.push_back(uint8_t(v >> 8));
    out.push_back(uint8_t(v));
}

uint32_t getBe32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

void putChunk(std::vector<uint8_t>& out, const char type[4], const uint8_t* data, size_t len) {
    putBe32(out, uint32_t(len));
    size_t typeAt = out.size();
    out.insert(out.end(), type, type + 4);
    if (len)
        out.insert(out.end(), data, data + len);
    // CRC covers type and data; crc32's length argument is uInt, so feed it in pieces.
    uLong crc = crc32(0L, Z_NULL, 0);
    const uint8_t* p = out.data() + typeAt;
    size_t left = len + 4;
    while (left) {
        uInt n = uInt(std::min<size_t>(left, 1u << 30));
        crc = crc32(crc, p, n);
        p += n;
        left -= n;
    }
    putBe32(out, uint32_t(crc));
}

uint8_t paeth(uint8_t a, uint8_t b, uint8_t c) {
    int p = int(a) + int(b) - int(c);
    int pa = std::abs(p - int(a)), pb = std::abs(p - int(b)), pc = std::abs(p - int(c));
    if (pa <= pb && pa <= pc)
        return a;
    if (pb <= pc)
        return b;
    return c;
}

// Filters one row with filter type `f` (bpp = bytes per pixel) into `out`; `prev` is the
// previous row or null for the first. One loop per filter type keeps this fast.
void filterRow(int f, const uint8_t* row, const uint8_t* prev, size_t len, int bpp, uint8_t* out) {
    const size_t b = size_t(bpp);
    switch (f) {
    case 0:
        std::memcpy(out, row, len);
        return;
    case 1:
        for (size_t i = 0; i < len; ++i)
            out[i] = uint8_t(row[i] - (i >= b ? row[i - b] : 0));
        return;
    case 2:
        for (size_t i = 0; i < len; ++i)
            out[i] = uint8_t(row[i] - (prev ? prev[i] : 0));
        return;
    case 3:
        for (size_t i = 0; i < len; ++i) {
            unsigned a = i >= b ? row[i - b] : 0, up = prev ? prev[i] : 0;
            out[i] = uint8_t(row[i] - (a + up) / 2);
        }
        return;
    default:
        for (size_t i = 0; i < len; ++i) {
            uint8_t a = i >= b ? row[i - b] : 0;
            uint8_t up = prev ? prev[i] : 0;
            uint8_t c = (prev && i >= b) ? prev[i - b] : 0;
            out[i] = uint8_t(row[i] - paeth(a, up, c));
        }
        return;
    }
}

uint64_t rowCost(const uint8_t* data, size_t len) {
    uint64_t sum = 0;
    for (size_t i = 0; i < len; ++i)
        sum += data[i] < 128 ? data[i] : 256 - data[i];
    return sum;
}

std::vector<uint8_t> deflateAll(const std::vector<uint8_t>& raw, int level) {
    z_stream zs{};
    if (deflateInit(&zs, std::clamp(level, 0, 9)) != Z_OK)
        throw PngError("PNG encoder: deflateInit failed");
    std::vector<uint8_t> out(deflateBound(&zs, uLong(raw.size())));
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = uInt(raw.size());
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END)
        throw PngError("PNG encoder: deflate did not finish");
    out.resize(produced);
    return out;
}

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
    throw PngError(what + ": " + msg);
}

} // namespace

std::vector<uint8_t> encodePng(const RgbImage& image, int level) {
    if (image.channels != 3 && image.channels != 4)
        throw PngError("PNG encoder: channels must be 3 or 4");
    if (image.width <= 0 || image.height <= 0 || image.width > kPngMaxDimension ||
        image.height > kPngMaxDimension)
        throw PngError("PNG encoder: bad size " + std::to_string(image.width) + "x" +
                       std::to_string(image.height));
    const size_t rowBytes = size_t(image.width) * size_t(image.channels);
    if (image.data.size() != rowBytes * size_t(image.height))
        throw PngError("PNG encoder: pixel buffer size does not match the image size");

    // Filtered scanlines: each row gets the filter with the smallest absolute-sum cost.
    std::vector<uint8_t> raw((rowBytes + 1) * size_t(image.height));
    std::vector<uint8_t> trial(rowBytes), best(rowBytes);
    for (int y = 0; y < image.height; ++y) {
        const uint8_t* row = image.data.data() + size_t(y) * rowBytes;
        const uint8_t* prev = y ? row - rowBytes : nullptr;
        uint64_t bestCost = std::numeric_limits<uint64_t>::max();
        int bestFilter = 0;
        for (int f = 0; f < 5; ++f) {
            filterRow(f, row, prev, rowBytes, image.channels, trial.data());
            uint64_t cost = rowCost(trial.data(), rowBytes);
            if (cost < bestCost) {
                bestCost = cost;
                bestFilter = f;
                best.swap(trial);
            }
        }
        uint8_t* dst = raw.data() + size_t(y) * (rowBytes + 1);
        dst[0] = uint8_t(bestFilter);
        std::memcpy(dst + 1, best.data(), rowBytes);
    }
    std::vector<uint8_t> idat = deflateAll(raw, level);

    std::vector<uint8_t> out(kSignature.begin(), kSignature.end());
    std::vector<uint8_t> ihdr;
    putBe32(ihdr, uint32_t(image.width));
    putBe32(ihdr, uint32_t(image.height));
    ihdr.push_back(8);                           // bit depth
    ihdr.push_back(image.channels == 4 ? 6 : 2); // colour type
    ihdr.push_back(0);                           // compression
    ihdr.push_back(0);                           // filter method
    ihdr.push_back(0);                           // no interlace
    putChunk(out, "IHDR", ihdr.data(), ihdr.size());
    // Split the stream into IDAT chunks of at most 1 MiB.
    constexpr size_t kIdatPiece = 1u << 20;
    for (size_t at = 0; at < idat.size() || at == 0; at += kIdatPiece) {
        size_t n = std::min(kIdatPiece, idat.size() - at);
        putChunk(out, "IDAT", idat.data() + at, n);
        if (idat.empty())
            break;
    }
    putChunk(out, "IEND", nullptr, 0);
    return out;
}

RgbImage frameToRgb(const FrameImage& frame) {
    RgbImage img;
    img.width = frame.width;
    img.height = frame.height;
    img.channels = 3;
    const size_t count = size_t(std::max(frame.width, 0)) * size_t(std::max(frame.height, 0));
    if (frame.pixels.size() < count)
        throw PngError("frame: pixel buffer smaller than its size");
    img.data.resize(count * 3);
    for (size_t i = 0; i < count; ++i) {
        uint32_t p = frame.pixels[i];
        img.data[3 * i] = uint8_t(p >> 16);
        img.data[3 * i + 1] = uint8_t(p >> 8);
        img.data[3 * i + 2] = uint8_t(p);
    }
    return img;
}

std::vector<uint8_t> encodePng(const FrameImage& frame, int level) {
    return encodePng(frameToRgb(frame), level);
}

RgbImage decodePng(std::span<const uint8_t> bytes, const std::string& what) {
    if (bytes.size() < kSignature.size() ||
        std::memcmp(bytes.data(), kSignature.data(), kSignature.size()) != 0)
        fail(what, "not a PNG file (bad signature)");
    size_t pos = kSignature.size();
    bool haveHeader = false, haveEnd = false, idatDone = false, inIdat = false;
    RgbImage img;
    size_t rowBytes = 0, expected = 0;
    std::vector<uint8_t> raw;
    z_stream zs{};
    bool zsOpen = false, streamEnd = false;
    struct InflateGuard {
        z_stream* zs;
        bool* open;
        ~InflateGuard() {
            if (*open)
                inflateEnd(zs);
        }
    } guard{&zs, &zsOpen};

    int chunkIndex = 0;
    while (!haveEnd) {
        if (bytes.size() - pos < 12)
            fail(what, "truncated at byte " + std::to_string(pos) + " (chunk " +
                           std::to_string(chunkIndex) + " header missing)");
        const uint8_t* p = bytes.data() + pos;
        uint32_t len = getBe32(p);
        char type[5] = {char(p[4]), char(p[5]), char(p[6]), char(p[7]), 0};
        for (int i = 0; i < 4; ++i)
            if (!((type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')))
                fail(what, "chunk " + std::to_string(chunkIndex) + " has an invalid type");
        if (len > kMaxChunkLength || bytes.size() - pos - 12 < len)
            fail(what, std::string(type) + " chunk length " + std::to_string(len) +
                           " runs past the end of the file");
        const uint8_t* data = p + 8;
        uLong crc = crc32(0L, Z_NULL, 0);
        crc = crc32(crc, p + 4, uInt(len + 4));
        if (uint32_t(crc) != getBe32(data + len))
            fail(what, std::string(type) + " chunk CRC mismatch");
        const std::string t(type);

        if (chunkIndex == 0 && t != "IHDR")
            fail(what, "first chunk is " + t + ", not IHDR");
        if (t == "IHDR") {
            if (haveHeader)
                fail(what, "second IHDR chunk");
            if (len != 13)
                fail(what, "IHDR length " + std::to_string(len) + " (must be 13)");
            uint32_t w = getBe32(data), h = getBe32(data + 4);
            uint8_t depth = data[8], colour = data[9];
            if (w == 0 || h == 0 || w > uint32_t(kPngMaxDimension) ||
                h > uint32_t(kPngMaxDimension) || uint64_t(w) * h > kPngMaxPixels)
                fail(what, "unsupported size " + std::to_string(w) + "x" + std::to_string(h));
            if (depth != 8)
                fail(what, "unsupported bit depth " + std::to_string(depth) + " (only 8)");
            if (colour != 2 && colour != 6)
                fail(what,
                     "unsupported colour type " + std::to_string(colour) + " (only RGB and RGBA)");
            if (data[10] != 0 || data[11] != 0)
                fail(what, "unknown compression or filter method");
            if (data[12] != 0)
                fail(what, "interlaced images are not supported");
            img.width = int(w);
            img.height = int(h);
            img.channels = colour == 6 ? 4 : 3;
            rowBytes = size_t(w) * size_t(img.channels);
            expected = (rowBytes + 1) * size_t(h);
            raw.resize(expected);
            if (inflateInit(&zs) != Z_OK)
                fail(what, "zlib inflateInit failed");
            zsOpen = true;
            zs.next_out = raw.data();
            zs.avail_out = uInt(expected);
            haveHeader = true;
        } else if (t == "IDAT") {
            if (idatDone)
                fail(what, "IDAT chunks are not consecutive");
            inIdat = true;
            if (len && streamEnd)
                fail(what, "data after the end of the zlib stream");
            zs.next_in = const_cast<Bytef*>(data);
            zs.avail_in = uInt(len);
            while (zs.avail_in && !streamEnd) {
                int rc = inflate(&zs, Z_NO_FLUSH);
                if (rc == Z_STREAM_END) {
                    streamEnd = true;
                } else if (rc == Z_BUF_ERROR) {
                    // No progress possible: the output is full but the stream goes on (more
                    // data than the image holds), or the input is unusable.
                    if (zs.avail_out == 0)
                        fail(what, "image data is larger than " + std::to_string(img.width) + "x" +
                                       std::to_string(img.height) + " needs");
                    fail(what, "corrupt zlib stream");
                } else if (rc != Z_OK) {
                    fail(what, std::string("corrupt zlib stream (") +
                                   (zs.msg ? zs.msg : "inflate error") + ")");
                }
            }
            if (zs.avail_in && streamEnd)
                fail(what, "data after the end of the zlib stream");
        } else if (t == "IEND") {
            haveEnd = true;
        } else if (t == "PLTE" && img.channels == 3) {
            // A suggested palette for an RGB image: harmless, ignored.
        } else if (!(type[0] & 0x20)) {
            fail(what, "unknown critical chunk " + t);
        }
        if (t != "IDAT" && inIdat)
            idatDone = true;
        pos += 12 + size_t(len);
        ++chunkIndex;
    }
    if (!haveHeader)
        fail(what, "no IHDR chunk");
    if (!streamEnd)
        fail(what, "image data ends early (zlib stream incomplete, " +
                       std::to_string(zs.total_out) + " of " + std::to_string(expected) +
                       " bytes)");
    if (zs.total_out != expected)
        fail(what, "image data holds " + std::to_string(zs.total_out) + " bytes, " +
                       std::to_string(expected) + " expected");

    // Unfilter in place into the packed pixel buffer.
    const int bpp = img.channels;
    img.data.resize(rowBytes * size_t(img.height));
    for (int y = 0; y < img.height; ++y) {
        const uint8_t* src = raw.data() + size_t(y) * (rowBytes + 1);
        uint8_t f = src[0];
        ++src;
        uint8_t* row = img.data.data() + size_t(y) * rowBytes;
        const uint8_t* prev = y ? row - rowBytes : nullptr;
        if (f > 4)
            fail(what,
                 "row " + std::to_string(y) + " has unknown filter type " + std::to_string(f));
        for (size_t i = 0; i < rowBytes; ++i) {
            uint8_t a = i >= size_t(bpp) ? row[i - size_t(bpp)] : 0;
            uint8_t b = prev ? prev[i] : 0;
            uint8_t c = (prev && i >= size_t(bpp)) ? prev[i - size_t(bpp)] : 0;
            uint8_t pred = 0;
            switch (f) {
            case 1:
                pred = a;
                break;
            case 2:
                pred = b;
                break;
            case 3:
                pred = uint8_t((unsigned(a) + unsigned(b)) / 2);
                break;
            case 4:
                pred = paeth(a, b, c);
                break;
            default:
                break;
            }
            row[i] = uint8_t(src[i] + pred);
        }
    }
    return img;
}

FrameImage decodePngToFrame(std::span<const uint8_t> bytes, const std::string& what) {
    RgbImage img = decodePng(bytes, what);
    FrameImage frame;
    frame.width = img.width;
    frame.height = img.height;
    const size_t count = size_t(img.width) * size_t(img.height);
    frame.pixels.resize(count);
    for (size_t i = 0; i < count; ++i) {
        const uint8_t* s = img.data.data() + i * size_t(img.channels);
        frame.pixels[i] = uint32_t(s[0]) << 16 | uint32_t(s[1]) << 8 | s[2];
    }
    return frame;
}

std::vector<uint8_t> encodePpm(const FrameImage& frame) {
    RgbImage img = frameToRgb(frame);
    std::string header =
        "P6\n" + std::to_string(img.width) + " " + std::to_string(img.height) + "\n255\n";
    std::vector<uint8_t> out(header.begin(), header.end());
    out.insert(out.end(), img.data.begin(), img.data.end());
    return out;
}

namespace {

void writeBytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        throw PngError(path + ": cannot create: " + std::strerror(errno));
    size_t n = std::fwrite(bytes.data(), 1, bytes.size(), f);
    int err = errno;
    if (std::fclose(f) != 0 || n != bytes.size())
        throw PngError(path + ": write failed: " + std::strerror(err));
}

} // namespace

void writePngFile(const std::string& path, const FrameImage& frame) {
    writeBytes(path, encodePng(frame));
}

void writePpmFile(const std::string& path, const FrameImage& frame) {
    writeBytes(path, encodePpm(frame));
}

FrameImage readPngFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw PngError(path + ": cannot open: " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    // A PNG of the biggest accepted image compresses to far less than this.
    if (size < 0 || size > (std::streamoff(1) << 30))
        throw PngError(path + ": file too large for a PNG this decoder accepts");
    in.seekg(0);
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    if (size && !in.read(reinterpret_cast<char*>(bytes.data()), size))
        throw PngError(path + ": read failed");
    return decodePngToFrame(bytes, path);
}

} // namespace e2kvm::emu
