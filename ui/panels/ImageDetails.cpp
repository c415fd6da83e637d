#include "ui/panels/ImageDetails.h"

#include "app/vmcore/BlockNodeTable.h"
#include "block/ImageDescription.h"
#include "ui/panels/ImageTableModel.h"

#include <QStringList>

#include <exception>

namespace e2kvm::ui {

namespace {
QString q(const std::string& s) {
    return QString::fromStdString(s);
}
} // namespace

QString imageDetailsText(const ImageRow& row, const vm::BlockNodeTable* nodes) {
    QStringList out;
    out << QStringLiteral("File: %1").arg(row.file);
    if (!row.node || !row.node->image) {
        out << QStringLiteral("Cannot be opened: %1").arg(row.error);
        return out.join(QLatin1Char('\n'));
    }
    block::BlockDriver& image = *row.node->image;
    if (row.lookedAt)
        out << QStringLiteral("Node: none (looked at read-only; a change opens it)");
    else
        out << QStringLiteral("Node: %1%2")
                   .arg(q(row.node->name),
                        image.readOnly() ? QStringLiteral(" (read-only)") : QString());
    if (nodes && !row.lookedAt) {
        auto users = nodes->users(row.node->name);
        if (!users.empty()) {
            QStringList u;
            for (const auto& s : users)
                u << q(s);
            out << QStringLiteral("In use by: %1").arg(u.join(QStringLiteral(", ")));
        }
    }
    out << QStringLiteral("Format: %1").arg(q(image.formatName()));
    out << QStringLiteral("Virtual size: %1 (%2 bytes)")
               .arg(ImageTableModel::sizeText(image.size()))
               .arg(image.size());
    out << QStringLiteral("Disk size: %1").arg(ImageTableModel::sizeText(image.allocatedBytes()));
    if (image.clusterSize())
        out << QStringLiteral("Cluster size: %1 (%2 bytes)")
                   .arg(ImageTableModel::sizeText(image.clusterSize()))
                   .arg(image.clusterSize());
    block::ImageDescription d;
    try {
        image.describe(d);
    } catch (const std::exception& e) {
        out << QStringLiteral("Details unavailable: %1").arg(q(e.what()));
    }
    if (!d.backingFilename.empty()) {
        out << QStringLiteral("Backing file: %1").arg(q(d.backingFilename));
        if (!d.fullBackingFilename.empty() && d.fullBackingFilename != d.backingFilename)
            out << QStringLiteral("  resolved: %1").arg(q(d.fullBackingFilename));
        if (!d.backingFormat.empty())
            out << QStringLiteral("  format: %1").arg(q(d.backingFormat));
    }
    QString chain = ImageTableModel::backingChainText(row);
    if (!chain.isEmpty())
        out << QStringLiteral("Backing chain: %1").arg(chain);
    if (d.dirtyFlag)
        out << QStringLiteral("Dirty flag: set (the image was not closed cleanly)");
    if (d.qcow2) {
        const block::Qcow2Description& c = *d.qcow2;
        out << QStringLiteral("qcow2: compat %1, compression %2, refcount bits %3%4%5%6")
                   .arg(q(c.compat), q(c.compressionType))
                   .arg(c.refcountBits)
                   .arg(c.lazyRefcounts ? QStringLiteral(", lazy refcounts") : QString(),
                        c.extendedL2 ? QStringLiteral(", extended L2") : QString(),
                        c.corrupt ? QStringLiteral(", MARKED CORRUPT") : QString());
        if (c.dataFile)
            out << QStringLiteral("Data file: %1%2")
                       .arg(q(*c.dataFile), c.dataFileRaw ? QStringLiteral(" (raw)") : QString());
        for (const auto& b : c.bitmaps) {
            QStringList flags;
            for (const auto& f : b.flags)
                flags << q(f);
            // Sizes in the words the tables use ("64 KiB"), as for the cluster size.
            out << QStringLiteral("Bitmap %1: granularity %2%3")
                       .arg(q(b.name), ImageTableModel::sizeText(b.granularity))
                       .arg(flags.isEmpty()
                                ? QString()
                                : QStringLiteral(", flags %1").arg(flags.join(QLatin1Char(' '))));
        }
    }
    return out.join(QLatin1Char('\n'));
}

} // namespace e2kvm::ui
