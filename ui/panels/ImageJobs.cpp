#include "ui/panels/ImageJobs.h"

#include "block/BlockDriver.h"
#include "block/ImageCopy.h"
#include "ui/jobs/JobProgress.h"
#include "ui/panels/SizeText.h"

#include <QLocale>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <sys/stat.h>
#include <vector>

namespace e2kvm::ui {

namespace {

bool fileExists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

QString createImageJob(const CreateImageRequest& request, JobProgress& progress) {
    if (request.file.empty())
        throw std::runtime_error("No file name given for the new image");
    if (request.format != "qcow2" && request.format != "raw")
        throw std::runtime_error("Unknown image format '" + request.format + "'");
    if (fileExists(request.file))
        throw std::runtime_error(request.file + ": file exists; choose another name");
    if (!request.backingFile.empty() && request.format != "qcow2")
        throw std::runtime_error("Only qcow2 images can have a backing file");
    if (request.size == 0 && request.backingFile.empty())
        throw std::runtime_error("Image size must be larger than zero");
    progress.setStatus(QStringLiteral("Creating %1").arg(QString::fromStdString(request.file)));
    block::CreateOptions o;
    o.format = request.format;
    o.size = request.size;
    o.sizeGiven = request.size != 0;
    o.clusterSize = request.clusterSize;
    o.backingFile = request.backingFile;
    if (!request.backingFile.empty())
        o.backingFormat =
            block::probeFormat(block::resolveBackingPath(request.file, request.backingFile));
    block::createImage(request.file, o);
    progress.setTotal(1);
    progress.setDone(1);
    return QStringLiteral("Created %1 (%2%3)")
        .arg(QString::fromStdString(request.file), QString::fromStdString(request.format),
             request.size ? QStringLiteral(", ") + sizeText(request.size) : QString());
}

void growImage(block::BlockDriver& image, uint64_t newSize, bool vmRunning) {
    if (vmRunning)
        throw std::runtime_error(image.filename() +
                                 ": resize is refused while the VM is running (the guest would "
                                 "see its disk change under it); stop the VM first");
    if (newSize <= image.size())
        throw std::runtime_error(
            image.filename() + ": the new size (" + sizeText(newSize).toStdString() +
            ") must be larger than the current size (" + sizeText(image.size()).toStdString() +
            "); shrinking is not offered because it deletes data");
    image.truncate(newSize);
    image.flush();
}

QString convertImageJob(block::BlockDriver& source, const ConvertRequest& request,
                        JobProgress& progress) {
    if (request.target.empty())
        throw std::runtime_error("No target file name given");
    if (fileExists(request.target))
        throw std::runtime_error(request.target + ": file exists; choose another name");
    if (request.target == source.filename())
        throw std::runtime_error(request.target + ": target is the source image");
    block::CreateOptions o;
    o.format = request.format;
    o.size = source.size();
    o.sizeGiven = true;
    o.clusterSize = request.clusterSize;
    block::createImage(request.target, o);
    try {
        block::OpenOptions oo;
        oo.format = request.format;
        oo.readOnly = false;
        auto target = block::openImage(request.target, oo);
        progress.setTotal(source.size());
        progress.setStatus(
            QStringLiteral("Converting to %1").arg(QString::fromStdString(request.target)));
        progress.throwIfCancelled();
        block::CopySettings settings;
        settings.orderedWrites = true; // the target's clusters in guest order, as a user expects
        block::copyImage(source, *target, settings, [&progress](uint64_t bytes) {
            progress.advance(bytes);
            progress.throwIfCancelled();
        });
        target->flush();
        uint64_t allocated = target->allocatedBytes();
        return QStringLiteral("Converted %1 to %2 (%3, %4 allocated)")
            .arg(QString::fromStdString(source.filename()), QString::fromStdString(request.target),
                 QString::fromStdString(request.format), sizeText(allocated));
    } catch (...) {
        std::remove(request.target.c_str()); // never leave a half-written copy behind
        throw;
    }
}

QString checkSummary(const block::CheckResult& r, block::RepairMode repair) {
    QStringList parts;
    if (r.checkErrors)
        parts << QStringLiteral("%1 errors occurred during the check").arg(r.checkErrors);
    if (r.corruptions)
        parts << QStringLiteral("%1 corruptions").arg(r.corruptions);
    if (r.leaks)
        parts << QStringLiteral("%1 leaked clusters").arg(r.leaks);
    if (repair != block::RepairMode::None && (r.corruptionsFixed || r.leaksFixed))
        parts << QStringLiteral("repaired %1 corruptions and %2 leaks")
                     .arg(r.corruptionsFixed)
                     .arg(r.leaksFixed);
    QString head = parts.isEmpty() ? QStringLiteral("No errors were found on the image")
                                   : parts.join(QStringLiteral(", "));
    if (r.totalClusters)
        head += QStringLiteral("; %1/%2 clusters allocated")
                    .arg(r.allocatedClusters)
                    .arg(r.totalClusters);
    return head;
}

QString checkImageJob(const std::string& file, const std::string& format, block::RepairMode repair,
                      bool forceShare, JobProgress& progress) {
    progress.setStatus(QStringLiteral("%1 %2").arg(repair == block::RepairMode::None
                                                       ? QStringLiteral("Checking")
                                                       : QStringLiteral("Repairing"),
                                                   QString::fromStdString(file)));
    block::CheckResult r = block::checkImage(file, format, repair, forceShare);
    progress.throwIfCancelled();
    QString text = checkSummary(r, repair);
    for (size_t i = 0; i < r.messages.size() && i < 20; ++i)
        text += QLatin1Char('\n') + QString::fromStdString(r.messages[i]);
    if (r.messages.size() > 20)
        text += QStringLiteral("\n… %1 more").arg(r.messages.size() - 20);
    return text;
}

} // namespace e2kvm::ui
