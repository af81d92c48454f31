#!/usr/bin/python3
"""Packs a folder of images (one sub-folder per class, as crunet's image_folder reads it) into an
MXNet RecordIO pair PREFIX.rec + PREFIX.idx, the images' bytes kept as they are (im2rec's
--pass-through), for bench/data_rec_vs_folder.sh. Sample i of the folder (classes sorted by name,
files sorted by path) is record i, its label the class's position.

The layout is MXIndexedRecordIO's (IRHeader {flag 0, label, id, id2 0}, the image; records split at
aligned magic words; "key<TAB>offset" index lines); tools/mxnet_fixtures.py checks crunet against
files written by MXNet itself. Needs only the standard library.

    bench/make_rec.py FOLDER PREFIX
"""
import argparse
import os
import struct

MAGIC = 0xCED7230A
EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".webp", ".tif", ".tiff"}


def parts(record):
    """dmlc-core's writer: a part ends at every 4-byte-aligned magic word, which is dropped."""
    out, begin = [], 0

    def part(cflag, end):
        body = record[begin:end]
        return (struct.pack("<II", MAGIC, cflag << 29 | len(body)) + body +
                b"\x00" * ((4 - len(body) % 4) % 4))
    for i in range(0, len(record) - 3, 4):
        if struct.unpack_from("<I", record, i)[0] == MAGIC:
            out.append(part(1 if begin == 0 else 2, i))
            begin = i + 4
    out.append(part(0 if begin == 0 else 3, len(record)))
    return b"".join(out)


def samples(folder):
    classes = sorted(d for d in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    for label, name in enumerate(classes):
        base = os.path.join(folder, name)
        files = []
        for here, dirs, names in os.walk(base, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for f in names:
                if not f.startswith(".") and os.path.splitext(f)[1].lower() in EXTENSIONS:
                    files.append(os.path.relpath(os.path.join(here, f), base))
        for f in sorted(files):
            yield label, os.path.join(base, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder")
    parser.add_argument("prefix")
    args = parser.parse_args()
    count = 0
    with open(args.prefix + ".rec", "wb") as rec, open(args.prefix + ".idx", "w") as idx:
        for key, (label, path) in enumerate(samples(args.folder)):
            with open(path, "rb") as f:
                image = f.read()
            idx.write("%d\t%d\n" % (key, rec.tell()))
            rec.write(parts(struct.pack("<IfQQ", 0, float(label), key, 0) + image))
            count += 1
    print("%s.rec: %d records, %d bytes" % (args.prefix, count, os.path.getsize(args.prefix + ".rec")))


if __name__ == "__main__":
    main()
