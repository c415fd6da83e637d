#pragma once
// BitmapMapWidget: the visual map of one dirty bitmap: the disk as a grid of cells, dirty cells
// red, cells covering several granules shaded by their dirty share, a legend with dirty bytes
// and percent, zoom (wheel or buttons) and a tooltip with each cell's byte range. Cells grow
// (up to kMaxCellPx) while the grid still fits the widget, so a small map fills the area given
// to it; a big one scrolls at kCellPx. Polls the bitmap on a timer and repaints only when it
// changed.
#include "ui/panels/BitmapCellMap.h"

#include <QColor>
#include <QTimer>
#include <QWidget>

#include <algorithm>
#include <memory>

namespace e2kvm::block {
class DirtyBitmap;
}

namespace e2kvm::ui {

class BitmapMapWidget : public QWidget {
    Q_OBJECT
public:
    static constexpr int kCellPx = 10;       // smallest cell pitch in pixels (8 drawn + 2 gap)
    static constexpr int kMaxCellPx = 48;    // cells grow up to this pitch to fill the widget
    static constexpr int kLegendHeight = 44; // legend text and swatches above the grid
    static constexpr int kMargin = 4;
    static constexpr size_t kOverviewCells = 4096;       // zoom level 0 fits the disk in this many
    static constexpr size_t kMaxCells = size_t{1} << 20; // zooming stops here

    explicit BitmapMapWidget(QWidget* parent = nullptr);

    // The bitmap to show (null: nothing); `name` goes into the legend.
    void setBitmap(std::shared_ptr<const block::DirtyBitmap> bitmap, const QString& name = {});
    const BitmapCellMap& cells() const { return map_; }

    int zoomLevel() const { return zoom_; }
    // The cell pitch now: the largest (kCellPx..kMaxCellPx) at which every cell fits the
    // widget's size, kCellPx when they do not fit (the widget is then as tall as they need).
    int cellPitch() const;
    bool canZoomIn() const;
    // Cell geometry (widget coordinates) and hit testing; -1 when no cell is there.
    QRect cellRect(size_t cell) const;
    long long cellAt(QPoint pos) const;
    // The hover text of a cell ("bytes 0–65535 (64 KiB): 32 KiB dirty (50.0%)").
    QString cellToolTip(size_t cell) const;
    QString legendText() const;
    // Colour of a cell with this dirty share.
    static QColor cellColor(double fraction);
    static QColor cleanColor() { return QColor(0xe4, 0xe4, 0xe4); }
    static QColor dirtyColor() { return QColor(0xd0, 0x30, 0x30); }

    void setPollInterval(int ms) { poll_.setInterval(ms); }
    // How often the map was recomputed / repainted because something changed (tests).
    int recomputeCount() const { return recomputes_; }

    int heightForWidth(int width) const override;
    bool hasHeightForWidth() const override { return true; }
    QSize sizeHint() const override;

public slots:
    void zoomIn();
    void zoomOut();
    // Looks at the bitmap now: recomputes and repaints only if its dirty count changed (and
    // compares the cells every few polls for changes that keep the count).
    void pollChanges();

signals:
    void zoomChanged(int level);

protected:
    void paintEvent(QPaintEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    bool event(QEvent* event) override;

private:
    void recompute();
    int columns(int pitch) const;
    static int gap(int pitch) { return std::max(2, pitch / 6); }
    QRect cellRect(size_t cell, int pitch, int cols) const;
    uint64_t wantedCellBytes() const;

    std::shared_ptr<const block::DirtyBitmap> bitmap_;
    QString name_;
    BitmapCellMap map_;
    int zoom_ = 0;
    uint64_t zoomDiskSize_ = 0; // the disk the zoom level is for
    uint64_t lastCount_ = 0;
    uint64_t lastSize_ = 0;
    int pollsSinceCompare_ = 0;
    int recomputes_ = 0;
    QTimer poll_;
};

} // namespace e2kvm::ui
