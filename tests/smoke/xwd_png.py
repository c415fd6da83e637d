"""Converts an X window dump (xwd's output: a big-endian header, then ZPixmap rows of 24 or 32
bits per pixel) to an RGB PNG, with the Python standard library only, so that a smoke test can
keep and check what the X server showed."""
import struct
import zlib


def xwd_to_png(data, path):
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line, ncolors = (fields[7], fields[11], fields[12],
                                                           fields[19])
    if version != 7 or pixmap_format != 2 or depth != 24 or bits_per_pixel not in (24, 32):
        raise ValueError(f"unsupported xwd dump: version {version}, format {pixmap_format}, "
                         f"depth {depth}, {bits_per_pixel} bits per pixel")
    step = bits_per_pixel // 8
    start = header_size + ncolors * 12  # the colour map follows the header
    rows = []
    for y in range(height):
        line = data[start + y * bytes_per_line:start + y * bytes_per_line + width * step]
        if len(line) != width * step:
            raise ValueError(f"xwd dump ends at row {y} of {height}")
        if byte_order == 0:  # LSBFirst: blue, green, red (then padding)
            blue, green, red = line[0::step], line[1::step], line[2::step]
        else:
            red, green, blue = line[step - 3::step], line[step - 2::step], line[step - 1::step]
        pixels = bytearray(width * 3)
        pixels[0::3], pixels[1::3], pixels[2::3] = red, green, blue
        rows.append(b"\0" + bytes(pixels))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))

    png = (b"\x89PNG\r\n\x1a\n" +
           chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))
    with open(path, "wb") as out:
        out.write(png)
