#pragma once
// TableColumns: how the panels' tables size their columns: one line per row (no wrapping), long
// texts such as paths shortened in the middle (the panels give the full text as a tooltip), the
// last column stretched over the rest of the width, and the others as wide as their contents
// (up to kMaxColumnWidth) when rows come or go, wider when a value grows, while the user may
// still drag them. An empty table keeps the widths it had.
class QTableView;

namespace e2kvm::ui {

inline constexpr int kMaxColumnWidth = 420;

// Sets `table` up so and follows the rows of its model (set the model first: a model set
// later is not followed).
void fitColumnsToContents(QTableView* table);
// Sizes the columns to their contents now (what fitColumnsToContents does when rows change).
void resizeColumnsToFit(QTableView* table);
// Widens the columns whose contents no longer fit (what it does when values change).
void widenColumnsToFit(QTableView* table);

} // namespace e2kvm::ui
