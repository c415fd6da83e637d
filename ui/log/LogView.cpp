#include "ui/log/LogView.h"

#include "ui/log/LogFilterModel.h"
#include "ui/log/LogModel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTableView>
#include <QVBoxLayout>

namespace e2kvm::ui {

LogView::LogView(LogModel& model, QWidget* parent) : QWidget(parent), model_(model) {
    filter_ = new LogFilterModel(this);
    filter_->setSourceModel(&model_);

    filterEdit_ = new QLineEdit(this);
    filterEdit_->setPlaceholderText(tr("Filter messages"));
    filterEdit_->setClearButtonEnabled(true);
    levelBox_ = new QComboBox(this);
    levelBox_->addItems({tr("Debug and above"), tr("Info and above"), tr("Warnings and errors"),
                         tr("Errors only")});
    levelBox_->setCurrentIndex(0);
    auto* clear = new QPushButton(tr("Clear"), this);

    table_ = new QTableView(this);
    table_->setModel(filter_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->horizontalHeader()->setSectionResizeMode(LogModel::TimeColumn,
                                                     QHeaderView::ResizeToContents);
    table_->horizontalHeader()->setSectionResizeMode(LogModel::LevelColumn,
                                                     QHeaderView::ResizeToContents);
    table_->setWordWrap(false);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Filter:"), this));
    top->addWidget(filterEdit_, 1);
    top->addWidget(levelBox_);
    top->addWidget(clear);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(table_, 1);

    connect(filterEdit_, &QLineEdit::textChanged, filter_, &LogFilterModel::setText);
    connect(levelBox_, &QComboBox::currentIndexChanged, filter_, &LogFilterModel::setMinimumLevel);
    connect(clear, &QPushButton::clicked, &model_, &LogModel::clear);
    // Follow the newest entry only while the user is at the bottom already.
    connect(filter_, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] {
        QScrollBar* bar = table_->verticalScrollBar();
        table_->setProperty("followTail", bar->value() >= bar->maximum() - 2);
    });
    connect(filter_, &QAbstractItemModel::rowsInserted, this, [this] {
        if (table_->property("followTail").toBool())
            table_->scrollToBottom();
    });
}

void LogView::setFilterText(const QString& text) {
    filterEdit_->setText(text);
}

int LogView::visibleRows() const {
    return filter_->rowCount();
}

} // namespace e2kvm::ui
