#include "ui/panels/BitmapMapWidget.h"

#include "block/bitmap/DirtyBitmap.h"
#include "ui/panels/SizeText.h"

#include <QHelpEvent>
#include <QLocale>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>

namespace e2kvm::ui {

namespace {
QString percentText(uint64_t part, uint64_t whole) {
    double p = whole ? 100.0 * double(part) / double(whole) : 0.0;
    return QString::number(p, 'f', p > 0 && p < 0.01 ? 4 : 2) + QLatin1Char('%');
}
} // namespace

BitmapMapWidget::BitmapMapWidget(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    QSizePolicy sp(QSizePolicy::Expanding, QSizePolicy::Preferred);
    sp.setHeightForWidth(true);
    setSizePolicy(sp);
    poll_.setInterval(500);
    connect(&poll_, &QTimer::timeout, this, &BitmapMapWidget::pollChanges);
}

void BitmapMapWidget::setBitmap(std::shared_ptr<const block::DirtyBitmap> bitmap,
                                const QString& name) {
    // The zoom stays while the bitmaps shown are of the same disk (another bitmap selected, or
    // none for a moment while the list refreshes); a coarser one stops where it can.
    if (bitmap && bitmap->diskSize() != zoomDiskSize_) {
        zoom_ = 0;
        zoomDiskSize_ = bitmap->diskSize();
    }
    bitmap_ = std::move(bitmap);
    name_ = name;
    if (bitmap_) {
        const uint64_t base = BitmapCellMap::cellBytesToFit(bitmap_->diskSize(),
                                                            bitmap_->granularity(), kOverviewCells);
        while (zoom_ > 0 && (zoom_ >= 63 || (base >> zoom_) < bitmap_->granularity()))
            --zoom_;
    }
    recompute();
    emit zoomChanged(zoom_);
    if (bitmap_)
        poll_.start();
    else
        poll_.stop();
}

uint64_t BitmapMapWidget::wantedCellBytes() const {
    if (!bitmap_)
        return 1;
    uint64_t base =
        BitmapCellMap::cellBytesToFit(bitmap_->diskSize(), bitmap_->granularity(), kOverviewCells);
    uint64_t cell = zoom_ >= 63 ? 0 : base >> zoom_;
    return std::max(cell, bitmap_->granularity());
}

bool BitmapMapWidget::canZoomIn() const {
    if (!bitmap_)
        return false;
    uint64_t cell = wantedCellBytes();
    if (cell <= bitmap_->granularity())
        return false;
    uint64_t next = cell / 2;
    return (bitmap_->diskSize() + next - 1) / next <= kMaxCells;
}

void BitmapMapWidget::zoomIn() {
    if (!canZoomIn())
        return;
    ++zoom_;
    recompute();
    emit zoomChanged(zoom_);
}

void BitmapMapWidget::zoomOut() {
    if (zoom_ == 0)
        return;
    --zoom_;
    recompute();
    emit zoomChanged(zoom_);
}

void BitmapMapWidget::recompute() {
    ++recomputes_;
    if (bitmap_) {
        map_ = BitmapCellMap::compute(*bitmap_, wantedCellBytes(), kMaxCells);
        lastCount_ = bitmap_->dirtyGranules();
        lastSize_ = bitmap_->diskSize();
    } else {
        map_ = BitmapCellMap();
    }
    pollsSinceCompare_ = 0;
    updateGeometry();
    setMinimumHeight(heightForWidth(width()));
    update();
}

void BitmapMapWidget::pollChanges() {
    if (!bitmap_)
        return;
    if (bitmap_->dirtyGranules() != lastCount_ || bitmap_->diskSize() != lastSize_) {
        recompute();
        return;
    }
    // Same count can still hide a change (cleared and rewritten elsewhere): compare now and
    // then, repainting only if some cell differs.
    if (++pollsSinceCompare_ < 10)
        return;
    pollsSinceCompare_ = 0;
    BitmapCellMap fresh = BitmapCellMap::compute(*bitmap_, wantedCellBytes(), kMaxCells);
    if (!(fresh == map_)) {
        map_ = std::move(fresh);
        ++recomputes_;
        update();
    }
}

int BitmapMapWidget::columns(int pitch) const {
    return std::max(1, (width() - 2 * kMargin) / pitch);
}

int BitmapMapWidget::cellPitch() const {
    const long long cells = static_cast<long long>(map_.cellCount());
    if (cells == 0)
        return kCellPx;
    for (int pitch = kMaxCellPx; pitch > kCellPx; --pitch) {
        const long long cols = columns(pitch);
        const long long rows = (cells + cols - 1) / cols;
        if (kLegendHeight + 2 * kMargin + rows * pitch <= height())
            return pitch;
    }
    return kCellPx;
}

int BitmapMapWidget::heightForWidth(int w) const {
    int cols = std::max(1, (w - 2 * kMargin) / kCellPx);
    long long rows = (static_cast<long long>(map_.cellCount()) + cols - 1) / cols;
    long long h = kLegendHeight + 2 * kMargin + rows * kCellPx;
    return int(std::min<long long>(h, 16'000'000));
}

QSize BitmapMapWidget::sizeHint() const {
    return {64 * kCellPx + 2 * kMargin, heightForWidth(64 * kCellPx + 2 * kMargin)};
}

QRect BitmapMapWidget::cellRect(size_t cell) const {
    const int pitch = cellPitch();
    return cellRect(cell, pitch, columns(pitch));
}

QRect BitmapMapWidget::cellRect(size_t cell, int pitch, int cols) const {
    long long row = static_cast<long long>(cell) / cols;
    int col = int(static_cast<long long>(cell) % cols);
    return QRect(kMargin + col * pitch, int(kLegendHeight + kMargin + row * pitch),
                 pitch - gap(pitch), pitch - gap(pitch));
}

long long BitmapMapWidget::cellAt(QPoint pos) const {
    int x = pos.x() - kMargin, y = pos.y() - kLegendHeight - kMargin;
    if (x < 0 || y < 0)
        return -1;
    const int pitch = cellPitch();
    int cols = columns(pitch);
    int col = x / pitch;
    if (col >= cols)
        return -1;
    long long cell = static_cast<long long>(y / pitch) * cols + col;
    return cell < static_cast<long long>(map_.cellCount()) ? cell : -1;
}

QString BitmapMapWidget::cellToolTip(size_t cell) const {
    if (cell >= map_.cellCount())
        return {};
    uint64_t start = map_.cellStart(cell), len = map_.cellLength(cell);
    uint64_t dirty = map_.cellDirtyBytes(cell);
    return tr("bytes %1–%2 (%3): %4 dirty (%5)")
        .arg(start)
        .arg(start + len - 1)
        .arg(sizeText(len), sizeText(dirty), percentText(dirty, len));
}

QString BitmapMapWidget::legendText() const {
    if (!bitmap_)
        return tr("No bitmap selected");
    return tr("%1dirty %2 of %3 (%4) · one cell = %5 · granularity %6")
        .arg(name_.isEmpty() ? QString() : name_ + QStringLiteral(": "),
             sizeText(map_.dirtyBytes()), sizeText(map_.diskSize()),
             percentText(map_.dirtyBytes(), map_.diskSize()), sizeText(map_.cellBytes()),
             sizeText(map_.granularity()));
}

QColor BitmapMapWidget::cellColor(double fraction) {
    if (fraction <= 0)
        return cleanColor();
    // A cell with one dirty granule in thousands must still stand out from a clean one.
    double t = fraction >= 1 ? 1.0 : 0.25 + 0.6 * fraction;
    QColor a = cleanColor(), b = dirtyColor();
    auto mix = [t](int x, int y) { return int(x + (y - x) * t + 0.5); };
    return QColor(mix(a.red(), b.red()), mix(a.green(), b.green()), mix(a.blue(), b.blue()));
}

void BitmapMapWidget::paintEvent(QPaintEvent* event) {
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    p.setPen(palette().text().color());
    p.drawText(QRect(kMargin, kMargin, width() - 2 * kMargin, 18), Qt::AlignLeft | Qt::AlignVCenter,
               legendText());
    // Swatches: clean, partly dirty, dirty.
    int x = kMargin;
    const int y = kMargin + 22;
    for (auto [fraction, label] : {std::pair{0.0, tr("clean")}, std::pair{0.5, tr("partly dirty")},
                                   std::pair{1.0, tr("dirty")}}) {
        p.fillRect(QRect(x, y + 2, 10, 10), cellColor(fraction));
        x += 14;
        int w = p.fontMetrics().horizontalAdvance(label);
        p.drawText(QRect(x, y, w + 2, 14), Qt::AlignLeft | Qt::AlignVCenter, label);
        x += w + 12;
    }
    if (map_.cellCount() == 0)
        return;
    // Only the cells inside the exposed area are drawn (the map can have a million cells).
    QRect exposed = event->rect();
    const int pitch = cellPitch();
    const int cols = columns(pitch);
    long long firstRow = std::max(0, (exposed.top() - kLegendHeight - kMargin) / pitch);
    long long lastRow = std::max(0, (exposed.bottom() - kLegendHeight - kMargin) / pitch);
    size_t first = std::min(map_.cellCount(), size_t(firstRow * cols));
    size_t last = std::min(map_.cellCount(), size_t((lastRow + 1) * cols));
    for (size_t c = first; c < last; ++c)
        p.fillRect(cellRect(c, pitch, cols), cellColor(map_.cellFraction(c)));
}

void BitmapMapWidget::wheelEvent(QWheelEvent* event) {
    int dy = event->angleDelta().y();
    if (dy > 0)
        zoomIn();
    else if (dy < 0)
        zoomOut();
    event->accept();
}

void BitmapMapWidget::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    int h = heightForWidth(width());
    if (minimumHeight() != h)
        setMinimumHeight(h);
}

bool BitmapMapWidget::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(e);
        long long cell = cellAt(help->pos());
        if (cell >= 0)
            QToolTip::showText(help->globalPos(), cellToolTip(size_t(cell)), this,
                               cellRect(size_t(cell)));
        else
            QToolTip::hideText();
        return true;
    }
    return QWidget::event(e);
}

} // namespace e2kvm::ui
