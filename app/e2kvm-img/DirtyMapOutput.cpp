#include "DirtyMapOutput.h"

#include "CommandError.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/bitmap/DirtyExtents.h"

#include <cinttypes>
#include <cstdio>

namespace e2kvm::img {

int printDirtyMap(block::BlockDriver& image, const std::string& name, OutputFormat output,
                  uint64_t start, uint64_t end) {
    block::BitmapCatalog* catalog = image.bitmaps();
    if (!catalog)
        throw CommandFailure("Format '" + image.formatName() + "' has no dirty bitmaps");
    std::shared_ptr<const block::DirtyBitmap> bm = catalog->usable(name);
    end = std::min(end, bm->diskSize());
    if (output == OutputFormat::Human)
        std::printf("%-16s%-16s%s\n", "Offset", "Length", "Dirty");
    else
        std::printf("[");
    bool first = true;
    if (start < end) {
        block::DirtyExtentWalker walker(*bm, start, end - start);
        while (auto e = walker.next()) {
            if (output == OutputFormat::Human) {
                std::printf("%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->offset, e->length,
                            e->dirty ? "dirty" : "clean");
            } else {
                std::printf("%s{ \"start\": %" PRIu64 ", \"length\": %" PRIu64 ", \"dirty\": %s}",
                            first ? "" : ",\n", e->offset, e->length, e->dirty ? "true" : "false");
            }
            first = false;
        }
    }
    if (output == OutputFormat::Json)
        std::printf("]\n");
    return 0;
}

} // namespace e2kvm::img
