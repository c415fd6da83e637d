// BitmapCellMap (per-cell dirty bytes from the bitmap's runs) and BitmapMapWidget (pixels of
// dirty, clean and partly dirty cells, hover text, legend, zoom, cells that grow to fill the
// area, live update).
#include "block/bitmap/DirtyBitmap.h"
#include "ui/panels/BitmapCellMap.h"
#include "ui/panels/BitmapMapWidget.h"

#include <QImage>
#include <QTest>
#include <QWheelEvent>

#include <memory>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {
constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

QImage render(QWidget& w) {
    QImage img(w.size(), QImage::Format_RGB32);
    img.fill(Qt::white);
    w.render(&img);
    return img;
}

QColor pixelOf(const QImage& img, const BitmapMapWidget& w, size_t cell) {
    return img.pixelColor(w.cellRect(cell).center());
}
} // namespace

class BitmapMapTest : public QObject {
    Q_OBJECT
private slots:
    void cellsOneGranuleEach();
    void cellsCoverSeveralGranules();
    void lastCellShorterThanOthers();
    void hugeSparseDiskIsCheap();
    void widgetPixels();
    void hoverTextAndLegend();
    void zoomChangesCellSize();
    void cellsGrowToFillTheArea();
    void liveUpdateRepaintsOnlyWhenChanged();
};

void BitmapMapTest::cellsOneGranuleEach() {
    block::DirtyBitmap bm(1 * MiB, 64 * KiB); // 16 granules
    bm.set(0, 1);                             // granule 0
    bm.set(5 * 64 * KiB, 2 * 64 * KiB);       // granules 5, 6
    auto m = BitmapCellMap::compute(bm, 64 * KiB, 1000);
    QCOMPARE(m.cellCount(), size_t(16));
    QCOMPARE(m.cellBytes(), 64 * KiB);
    QCOMPARE(m.cellFraction(0), 1.0);
    QCOMPARE(m.cellFraction(1), 0.0);
    QCOMPARE(m.cellFraction(5), 1.0);
    QCOMPARE(m.cellFraction(6), 1.0);
    QCOMPARE(m.cellFraction(7), 0.0);
    QCOMPARE(m.dirtyBytes(), bm.dirtyBytes());
    QCOMPARE(m.dirtyRuns(), uint64_t(2));
}

void BitmapMapTest::cellsCoverSeveralGranules() {
    block::DirtyBitmap bm(4 * MiB, 64 * KiB); // 64 granules
    bm.set(0, 64 * KiB);                      // cell 0: 1 of 4 granules
    bm.set(4 * 64 * KiB, 4 * 64 * KiB);       // cell 1: all 4
    bm.set(9 * 64 * KiB, 2 * 64 * KiB);       // cell 2: 2 of 4
    auto m = BitmapCellMap::compute(bm, 256 * KiB, 1000);
    QCOMPARE(m.cellCount(), size_t(16));
    QCOMPARE(m.cellFraction(0), 0.25);
    QCOMPARE(m.cellFraction(1), 1.0);
    QCOMPARE(m.cellFraction(2), 0.5);
    QCOMPARE(m.cellDirtyBytes(3), uint64_t(0));
    // Too many cells asked for: the cell grows so at most maxCells remain.
    auto coarse = BitmapCellMap::compute(bm, 64 * KiB, 4);
    QCOMPARE(coarse.cellCount(), size_t(4));
    QCOMPARE(coarse.cellBytes(), 1 * MiB);
    QCOMPARE(coarse.cellDirtyBytes(0), 7 * 64 * KiB);
    // A cell size that is not a granule multiple is rounded up to one.
    QCOMPARE(BitmapCellMap::compute(bm, 100 * KiB, 1000).cellBytes(), 128 * KiB);
}

void BitmapMapTest::lastCellShorterThanOthers() {
    block::DirtyBitmap bm(1 * MiB + 4096, 64 * KiB); // last granule covers 4 KiB of disk
    bm.set(1 * MiB, 4096);
    auto m = BitmapCellMap::compute(bm, 512 * KiB, 100);
    QCOMPARE(m.cellCount(), size_t(3));
    QCOMPARE(m.cellLength(2), uint64_t(4096));
    QCOMPARE(m.cellFraction(2), 1.0);
    QCOMPARE(m.dirtyBytes(), uint64_t(4096));
    QCOMPARE(m.dirtyBytes(), bm.dirtyBytes());
}

void BitmapMapTest::hugeSparseDiskIsCheap() {
    // 1 TiB at 64 KiB granularity: 16 M granules; a few dirty runs must not cost a walk of all.
    block::DirtyBitmap bm(1024 * GiB, 64 * KiB);
    bm.set(0, 64 * KiB);
    bm.set(512 * GiB, 3 * MiB);
    bm.set(1024 * GiB - 64 * KiB, 64 * KiB);
    uint64_t cell = BitmapCellMap::cellBytesToFit(bm.diskSize(), bm.granularity(), 4096);
    QCOMPARE(cell, 256 * MiB);
    auto m = BitmapCellMap::compute(bm, cell, 4096);
    QCOMPARE(m.cellCount(), size_t(4096));
    QCOMPARE(m.dirtyRuns(), uint64_t(3));
    QCOMPARE(m.cellDirtyBytes(0), 64 * KiB);
    QCOMPARE(m.cellDirtyBytes(2048), 3 * MiB);
    QCOMPARE(m.cellDirtyBytes(4095), 64 * KiB);
    QCOMPARE(m.dirtyBytes(), 64 * KiB * 2 + 3 * MiB);
}

void BitmapMapTest::widgetPixels() {
    auto bm = std::make_shared<block::DirtyBitmap>(4 * MiB, 64 * KiB);
    bm->set(0, 64 * KiB);                // granule 0
    bm->set(4 * 64 * KiB, 4 * 64 * KiB); // granules 4..7
    BitmapMapWidget w;
    w.resize(400, 300);
    w.setBitmap(bm, "b0");
    // 64 granules fit the overview: one cell per granule.
    QCOMPARE(w.cells().cellBytes(), 64 * KiB);
    QImage img = render(w);
    QCOMPARE(pixelOf(img, w, 0), BitmapMapWidget::dirtyColor());
    QCOMPARE(pixelOf(img, w, 1), BitmapMapWidget::cleanColor());
    QCOMPARE(pixelOf(img, w, 4), BitmapMapWidget::dirtyColor());
    QCOMPARE(pixelOf(img, w, 63), BitmapMapWidget::cleanColor());
    // The gap between cells is background, not cell colour.
    QRect r0 = w.cellRect(0);
    QVERIFY(img.pixelColor(r0.right() + 1, r0.center().y()) != BitmapMapWidget::dirtyColor());

    // A large disk: cells of many granules are shaded by their dirty share.
    auto big = std::make_shared<block::DirtyBitmap>(64 * GiB, 64 * KiB);
    uint64_t cell =
        BitmapCellMap::cellBytesToFit(big->diskSize(), 64 * KiB, BitmapMapWidget::kOverviewCells);
    QCOMPARE(cell, 16 * MiB);
    big->set(0, cell);            // cell 0 full
    big->set(cell, cell / 2);     // cell 1 half
    big->set(2 * cell, 64 * KiB); // cell 2: one granule of 256
    w.setBitmap(big, "big");
    QCOMPARE(w.cells().cellBytes(), cell);
    img = render(w);
    QColor full = pixelOf(img, w, 0), half = pixelOf(img, w, 1), speck = pixelOf(img, w, 2);
    QColor clean = pixelOf(img, w, 3);
    QCOMPARE(full, BitmapMapWidget::dirtyColor());
    QCOMPARE(clean, BitmapMapWidget::cleanColor());
    QCOMPARE(half, BitmapMapWidget::cellColor(0.5));
    // Shading is monotonic: clean > speck > half > full in the green channel (red stays high).
    QVERIFY(clean.green() > speck.green());
    QVERIFY(speck.green() > half.green());
    QVERIFY(half.green() > full.green());
}

void BitmapMapTest::hoverTextAndLegend() {
    auto bm = std::make_shared<block::DirtyBitmap>(8 * MiB, 64 * KiB);
    bm->set(64 * KiB, 64 * KiB);
    BitmapMapWidget w;
    w.resize(300, 200);
    w.setBitmap(bm, "daily");
    QCOMPARE(w.cellAt(w.cellRect(1).center()), 1LL);
    QCOMPARE(w.cellAt(QPoint(1, 1)), -1LL); // the legend
    QString tip = w.cellToolTip(1);
    QVERIFY2(tip.contains("bytes 65536–131071"), qPrintable(tip));
    QVERIFY2(tip.contains("64 KiB dirty (100.00%)"), qPrintable(tip));
    QVERIFY2(w.cellToolTip(2).contains("0 bytes dirty") || w.cellToolTip(2).contains("0 B dirty"),
             qPrintable(w.cellToolTip(2)));
    QString legend = w.legendText();
    QVERIFY2(legend.contains("daily"), qPrintable(legend));
    QVERIFY2(legend.contains("64 KiB of 8 MiB"), qPrintable(legend));
    QVERIFY2(legend.contains("(0.78%)"), qPrintable(legend));
}

void BitmapMapTest::zoomChangesCellSize() {
    auto bm = std::make_shared<block::DirtyBitmap>(64 * GiB, 64 * KiB);
    bm->set(0, 64 * KiB);
    BitmapMapWidget w;
    w.resize(400, 300);
    w.setBitmap(bm);
    uint64_t base = w.cells().cellBytes();
    QVERIFY(w.canZoomIn());
    w.zoomIn();
    QCOMPARE(w.cells().cellBytes(), base / 2);
    QCOMPARE(w.zoomLevel(), 1);
    QWheelEvent up(QPointF(50, 80), QPointF(50, 80), QPoint(), QPoint(0, 120), Qt::NoButton,
                   Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &up);
    QCOMPARE(w.cells().cellBytes(), base / 4);
    QWheelEvent down(QPointF(50, 80), QPointF(50, 80), QPoint(), QPoint(0, -120), Qt::NoButton,
                     Qt::NoModifier, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &down);
    w.zoomOut();
    QCOMPARE(w.cells().cellBytes(), base);
    w.zoomOut(); // already fully out
    QCOMPARE(w.zoomLevel(), 0);
    // Zooming stops before the map has more than kMaxCells cells.
    while (w.canZoomIn())
        w.zoomIn();
    QVERIFY(w.cells().cellCount() <= BitmapMapWidget::kMaxCells);
    QVERIFY(w.cells().cellCount() > BitmapMapWidget::kMaxCells / 2);
    QVERIFY(w.heightForWidth(400) > 1000);
}

void BitmapMapTest::cellsGrowToFillTheArea() {
    // 1024 cells (64 MiB in 64 KiB granules) in an 800x600 map: at the smallest pitch they
    // would take the top half; the cells grow until the grid fills the height.
    auto bm = std::make_shared<block::DirtyBitmap>(64 * MiB, 64 * KiB);
    bm->set(0, 64 * KiB);
    BitmapMapWidget w;
    w.resize(800, 600);
    w.setBitmap(bm, "b");
    QCOMPARE(w.cells().cellCount(), size_t(1024));
    const int pitch = w.cellPitch();
    QVERIFY2(pitch > BitmapMapWidget::kCellPx, qPrintable(QString::number(pitch)));
    const QRect last = w.cellRect(1023);
    QVERIFY(last.bottom() < w.height());
    QVERIFY(last.right() < w.width());
    // Little empty space below: less than two rows of cells.
    QVERIFY2(
        w.height() - last.bottom() < 2 * pitch,
        qPrintable(QStringLiteral("pitch %1, last row ends at %2").arg(pitch).arg(last.bottom())));
    // Drawn that size: the first cell is dirty across its grown square, hit testing follows.
    QImage img = render(w);
    const QRect first = w.cellRect(0);
    QVERIFY(first.width() > BitmapMapWidget::kCellPx);
    QCOMPARE(img.pixelColor(first.bottomRight()), BitmapMapWidget::dirtyColor());
    QCOMPARE(w.cellAt(w.cellRect(500).center()), 500LL);
    // A taller area: cells grow again (up to the largest pitch).
    w.resize(800, 1200);
    QVERIFY(w.cellPitch() > pitch);
    QVERIFY(w.cellPitch() <= BitmapMapWidget::kMaxCellPx);
    // A map that does not fit keeps the smallest pitch and asks for the height it needs.
    w.resize(800, 600);
    while (w.canZoomIn() && w.cells().cellCount() < 16384)
        w.zoomIn();
    QVERIFY(w.cells().cellCount() >= 16384 || !w.canZoomIn());
    if (w.cells().cellCount() >= 16384) {
        QCOMPARE(w.cellPitch(), int(BitmapMapWidget::kCellPx));
        QVERIFY(w.heightForWidth(800) > 600);
    }
}

void BitmapMapTest::liveUpdateRepaintsOnlyWhenChanged() {
    auto bm = std::make_shared<block::DirtyBitmap>(1 * MiB, 64 * KiB);
    BitmapMapWidget w;
    w.resize(300, 200);
    w.setPollInterval(10);
    w.setBitmap(bm);
    int before = w.recomputeCount();
    for (int i = 0; i < 5; ++i)
        w.pollChanges();
    QCOMPARE(w.recomputeCount(), before);                        // nothing changed: no recompute
    bm->set(3 * 64 * KiB, 10);                                   // the VM writes
    QTRY_VERIFY_WITH_TIMEOUT(w.recomputeCount() > before, 5000); // the timer noticed
    QCOMPARE(w.cells().cellFraction(3), 1.0);
    QImage img = render(w);
    QCOMPARE(pixelOf(img, w, 3), BitmapMapWidget::dirtyColor());
    // Same count, different place: found by the periodic comparison.
    int afterWrite = w.recomputeCount();
    bm->reset(3 * 64 * KiB, 64 * KiB);
    bm->set(9 * 64 * KiB, 1);
    QTRY_VERIFY_WITH_TIMEOUT(w.recomputeCount() > afterWrite, 5000);
    QCOMPARE(w.cells().cellFraction(3), 0.0);
    QCOMPARE(w.cells().cellFraction(9), 1.0);
}

QTEST_MAIN(BitmapMapTest)
#include "tst_bitmap_map.moc"
