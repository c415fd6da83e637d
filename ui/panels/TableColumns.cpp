#include "ui/panels/TableColumns.h"

#include <QAbstractItemModel>
#include <QHeaderView>
#include <QTableView>

#include <algorithm>

namespace e2kvm::ui {

void resizeColumnsToFit(QTableView* table) {
    QAbstractItemModel* model = table->model();
    if (!model || model->rowCount() == 0)
        return; // an empty table keeps its widths rather than collapse to the headers
    QHeaderView* header = table->horizontalHeader();
    // The last column takes the rest of the width: sizing it to its contents would end the
    // stretch until the next resize of the window.
    const int sized = header->stretchLastSection() ? header->count() - 1 : header->count();
    for (int c = 0; c < sized; ++c) {
        table->resizeColumnToContents(c);
        if (header->sectionSize(c) > kMaxColumnWidth)
            header->resizeSection(c, kMaxColumnWidth);
    }
}

void widenColumnsToFit(QTableView* table) {
    QAbstractItemModel* model = table->model();
    if (!model || model->rowCount() == 0)
        return;
    QHeaderView* header = table->horizontalHeader();
    const QAbstractItemView* view = table; // QTableView hides sizeHintForColumn
    const int sized = header->stretchLastSection() ? header->count() - 1 : header->count();
    for (int c = 0; c < sized; ++c) {
        const int wanted = std::min(
            kMaxColumnWidth, std::max(view->sizeHintForColumn(c), header->sectionSizeHint(c)));
        if (header->sectionSize(c) < wanted)
            header->resizeSection(c, wanted);
    }
}

void fitColumnsToContents(QTableView* table) {
    table->setWordWrap(false);
    table->setTextElideMode(Qt::ElideMiddle);
    table->horizontalHeader()->setStretchLastSection(true);
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    QAbstractItemModel* model = table->model();
    if (!model)
        return;
    // A QTableWidget deletes its model, which then resets, while the widget is half destroyed:
    // past ~QTableView the object is no longer a table view, and is left alone.
    QObject* watched = table;
    auto fit = [watched] {
        if (auto* view = qobject_cast<QTableView*>(watched))
            resizeColumnsToFit(view);
    };
    QObject::connect(model, &QAbstractItemModel::modelReset, table, fit);
    QObject::connect(model, &QAbstractItemModel::rowsInserted, table, fit);
    QObject::connect(model, &QAbstractItemModel::rowsRemoved, table, fit);
    // A value that grew ("64 KiB" after "0 B") widens its column; nothing narrows a column the
    // user dragged wider.
    QObject::connect(model, &QAbstractItemModel::dataChanged, table, [watched] {
        if (auto* view = qobject_cast<QTableView*>(watched))
            widenColumnsToFit(view);
    });
    resizeColumnsToFit(table);
}

} // namespace e2kvm::ui
