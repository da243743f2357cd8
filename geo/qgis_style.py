"""QGIS styles for ``results.gpkg``: the map's classes and colours, embedded in the file.

QGIS reads a layer's default style from the GeoPackage's ``layer_styles``
table (the QGIS styling extension of GeoPackage) when the layer is opened, so
a reader who drags ``results.gpkg`` into QGIS sees the same classes and
colours as ``map.html``: units and hamlets by verdict (Đạt green, Chưa đạt red,
Chưa đánh giá grey), land use in the conventional colours, services by kind,
roads by surface, data findings by kind. Colours are read from
:mod:`geo.webmap`, never copied.

Each style is a QML document with a categorized renderer, a label on the
feature name where there is one, and the Vietnamese field aliases of
:mod:`geo.labels` (so QGIS's attribute table shows ``Dân số (người)`` for
``population``). One style per layer is the default (``useAsDefault``);
units and hamlets also carry one extra, non-default style per verdict column,
listed under *Layer Properties → Style → Load Style → From Database*.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime

from geo.labels import (
    FINDING_LABEL_OTHER,
    FINDING_LABELS,
    INFRASTRUCTURE_LABELS,
    NO_DATA_LABEL,
    STATUS_LABELS,
    SURFACE_LABELS,
    Label,
    column_label,
)
from geo.resources import landuse_codes
from geo.webmap import (
    FINDING_COLORS,
    KIND_STYLES,
    LANDUSE_COLORS,
    LANDUSE_UNKNOWN_COLOR,
    NO_DATA_COLOR,
    STATUS_COLORS,
    SURFACE_STYLES,
)

__all__ = [
    "LAYER_STYLES_COLUMNS",
    "QGIS_VERSION",
    "Category",
    "Style",
    "categorized_qml",
    "result_styles",
    "write_layer_styles",
]

QGIS_VERSION = "3.22.16-Białowieża"
"""QGIS version written in the QML header (the Debian 12 release the styles were checked with)."""

LAYER_STYLES_COLUMNS = (
    "id",
    "f_table_catalog",
    "f_table_schema",
    "f_table_name",
    "f_geometry_column",
    "styleName",
    "styleQML",
    "styleSLD",
    "useAsDefault",
    "description",
    "owner",
    "ui",
    "update_time",
)
"""Columns of the ``layer_styles`` table, as QGIS creates it."""

_CREATE_LAYER_STYLES = """
CREATE TABLE IF NOT EXISTS "layer_styles" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "f_table_catalog" TEXT(256),
    "f_table_schema" TEXT(256),
    "f_table_name" TEXT(256),
    "f_geometry_column" TEXT(256),
    "styleName" TEXT(30),
    "styleQML" TEXT,
    "styleSLD" TEXT,
    "useAsDefault" BOOLEAN,
    "description" TEXT,
    "owner" TEXT(30),
    "ui" TEXT(30),
    "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""
"""The table as QGIS (through GDAL) creates it on *Save as Default* in a GeoPackage."""

GPKG_FIELDS: dict[str, dict[str, Label]] = {
    "units": {
        "status_<criterion>": Label("Kết quả theo từng tiêu chí", "Status of each criterion"),
        "gap_<criterion>": Label("Còn thiếu theo từng tiêu chí", "Gap of each criterion"),
    },
    "layer_styles": {
        "f_table_name": Label("Lớp được tô màu", "Styled layer"),
        "styleName": Label("Tên kiểu hiển thị", "Style name"),
        "styleQML": Label("Kiểu hiển thị (QML)", "Style (QML)"),
        "useAsDefault": Label("Kiểu mặc định", "Default style"),
    },
    "landuse_by_hamlet": {
        "code": Label("Mã loại đất", "Land-use code"),
        "lu_group": Label("Nhóm đất", "Land-use group"),
        "hamlet_id": Label("Mã thôn", "Hamlet code"),
        "unit_id": Label("Mã xã / phường", "Commune code"),
        "parcel": Label("Số thứ tự thửa trong lớp đầu vào", "Parcel row in the input layer"),
        "area_m2": Label("Diện tích", "Area", "m²"),
    },
    "infrastructure": {
        "kind": Label("Loại công trình", "Kind"),
        "name": Label("Tên", "Name"),
        "hamlet_id": Label("Mã thôn", "Hamlet code"),
        "unit_id": Label("Mã xã / phường", "Commune code"),
    },
    "roads": {
        "surface": Label("Mặt đường", "Surface"),
        "length_m": Label("Chiều dài", "Length", "m"),
    },
    "findings": {
        "kind": Label("Loại phát hiện", "Kind of finding"),
        "layer": Label("Lớp dữ liệu", "Layer"),
        "unit_id": Label("Mã xã / phường", "Commune code"),
        "feature": Label("Đối tượng", "Feature"),
        "area_m2": Label("Diện tích", "Area", "m²"),
        "value": Label("Giá trị", "Value"),
        "value_unit": Label("Đơn vị của giá trị", "Unit of the value"),
        "point_x": Label("Tọa độ X", "X", "m"),
        "point_y": Label("Tọa độ Y", "Y", "m"),
        "message_vi": Label("Nội dung", "Message (Vietnamese)"),
        "message_en": Label("Nội dung tiếng Anh", "Message (English)"),
        "message": Label("Nội dung (song ngữ)", "Message (both languages)"),
    },
}
"""Labels of the fields of the GeoPackage layers that the CSV files do not have."""

GPKG_LAYERS: dict[str, tuple[str, dict[str, str]]] = {
    "units": (
        (
            "Xã / phường: chỉ tiêu như units.csv, và status_<tiêu chí>, gap_<tiêu chí> cho mỗi "
            "tiêu chí được đánh giá / communes: the indicators of units.csv, plus status and gap "
            "per judged criterion"
        ),
        {"status_<criterion>": "", "gap_<criterion>": ""},
    ),
    "hamlets": (
        (
            "Thôn, xóm: chỉ tiêu như hamlets.csv, và status_/gap_ theo tiêu chí / hamlets: the "
            "indicators of hamlets.csv, plus status and gap per judged criterion"
        ),
        {"status_<criterion>": "", "gap_<criterion>": ""},
    ),
    "landuse_by_hamlet": (
        (
            "Thửa đất cắt chính xác theo ranh giới thôn (theo xã khi không có lớp thôn) / parcels "
            "split exactly at hamlet boundaries (units without a hamlet layer)"
        ),
        {
            "code": "mã loại đất như lớp đầu vào / land-use code as in the input",
            "lu_group": "agricultural | non_agricultural | unused (layers/reference)",
            "hamlet_id": "",
            "unit_id": "",
            "parcel": (
                "1 = đối tượng đầu tiên của lớp sử dụng đất đầu vào, như #1 trong findings.csv / "
                "1 = first feature of the input land-use layer, as #1 in findings.csv"
            ),
            "area_m2": "diện tích của phần thửa trong thôn / area of the piece",
        },
    ),
    "infrastructure": (
        "Điểm hạ tầng, với thôn và xã chứa điểm / service points with their hamlet and commune",
        {"kind": "", "name": "", "hamlet_id": "", "unit_id": ""},
    ),
    "roads": (
        "Đường giao thông theo mặt đường / roads by surface",
        {"surface": "asphalt | concrete | gravel | earth | unknown", "length_m": ""},
    ),
    "findings": (
        (
            "Phát hiện về độ phủ: khoảng hở, chồng lấn, đất chưa có dữ liệu (vùng); lệch diện tích "
            "(điểm) / coverage findings: gaps, overlaps, uncovered land (polygons); area "
            "mismatches (points)"
        ),
        {
            "kind": "gap | overlap | landuse_uncovered | area_mismatch | hamlet_sum_mismatch",
            "layer": "",
            "unit_id": "",
            "feature": "",
            "area_m2": "",
            "value": "",
            "value_unit": "",
            "point_x": "",
            "point_y": "",
            "message_vi": "",
            "message_en": "",
            "message": "",
        },
    ),
    "layer_styles": (
        (
            "Kiểu hiển thị QGIS của các lớp (QGIS tự áp dụng khi mở) / QGIS styles of the layers, "
            "applied when QGIS opens them"
        ),
        {"f_table_name": "", "styleName": "", "styleQML": "", "useAsDefault": ""},
    ),
}
"""Layer → (description, field → description) of ``results.gpkg``, for the data dictionary."""

_PX_MM = 0.26
"""One CSS pixel of the HTML map in millimetres (96 dpi), for line widths and sizes."""
_UNIT_FILL_ALPHA = 0.6
_HAMLET_FILL_ALPHA = 0.72
_ZONE_OUTLINE = "#3a3a3a"
_LANDUSE_OUTLINE = "#7d7d7d"
_POINT_KINDS = frozenset({"area_mismatch", "hamlet_sum_mismatch"})
"""Coverage findings drawn as points (the unit's representative point); the rest are polygons."""


@dataclass(frozen=True)
class Category:
    """One class of a categorized renderer: the field value, its legend label and look.

    Attributes
    ----------
    value : str
        The field value; ``""`` catches every other value, NULL included.
    label : str
        Legend text.
    color : str
        Fill (polygons, points) or line colour, ``#rrggbb``.
    symbol : str
        ``fill``, ``marker`` or ``line``.
    alpha : float
        Opacity of the fill, 0 to 1.
    outline : str
        Outline colour of fills and markers.
    width : float
        Outline (fills, markers) or line width, in millimetres.
    size : float
        Marker diameter, in millimetres.
    dash : str
        Line dash pattern in millimetres (``"1.3;0.8"``); empty for solid.
    """

    value: str
    label: str
    color: str
    symbol: str = "fill"
    alpha: float = 1.0
    outline: str = _ZONE_OUTLINE
    width: float = 0.26
    size: float = 2.6
    dash: str = ""


@dataclass(frozen=True)
class Style:
    """One row of ``layer_styles``: a named QML style of a layer."""

    layer: str
    name: str
    qml: str
    default: bool
    description: str


# ----------------------------------------------------------------------------- QML


def _rgba(color: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` → ``r,g,b,a`` as QGIS writes colours."""
    text = color.lstrip("#")
    red, green, blue = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{round(alpha * 255)}"


def _symbol_layer(category: Category) -> tuple[str, dict[str, str]]:
    """Return the symbol-layer class and its properties for a category."""
    if category.symbol == "fill":
        return "SimpleFill", {
            "color": _rgba(category.color, category.alpha),
            "style": "solid",
            "outline_color": _rgba(category.outline),
            "outline_style": "solid",
            "outline_width": f"{category.width:g}",
            "outline_width_unit": "MM",
            "joinstyle": "bevel",
            "offset": "0,0",
            "offset_unit": "MM",
        }
    if category.symbol == "marker":
        return "SimpleMarker", {
            "name": "circle",
            "color": _rgba(category.color, category.alpha),
            "outline_color": _rgba(category.outline),
            "outline_style": "solid",
            "outline_width": f"{category.width:g}",
            "outline_width_unit": "MM",
            "size": f"{category.size:g}",
            "size_unit": "MM",
            "angle": "0",
            "offset": "0,0",
            "offset_unit": "MM",
            "scale_method": "diameter",
            "joinstyle": "bevel",
        }
    if category.symbol == "line":
        properties = {
            "line_color": _rgba(category.color, category.alpha),
            "line_style": "solid",
            "line_width": f"{category.width:g}",
            "line_width_unit": "MM",
            "capstyle": "round",
            "joinstyle": "round",
            "offset": "0",
            "offset_unit": "MM",
            "use_custom_dash": "0",
        }
        if category.dash:
            properties |= {
                "use_custom_dash": "1",
                "customdash": category.dash,
                "customdash_unit": "MM",
            }
        return "SimpleLine", properties
    raise ValueError(f"symbol {category.symbol!r}: must be fill, marker or line")


def _symbol(parent: ET.Element, name: str, category: Category) -> None:
    symbol = ET.SubElement(
        parent,
        "symbol",
        {
            "type": category.symbol,
            "name": name,
            "alpha": "1",
            "clip_to_extent": "1",
            "force_rhr": "0",
        },
    )
    klass, properties = _symbol_layer(category)
    layer = ET.SubElement(
        symbol, "layer", {"class": klass, "enabled": "1", "locked": "0", "pass": "0"}
    )
    # QGIS ≥ 3.20 reads the Option map; older releases read the <prop> elements.
    options = ET.SubElement(layer, "Option", {"type": "Map"})
    for key, value in properties.items():
        ET.SubElement(options, "Option", {"name": key, "type": "QString", "value": value})
    for key, value in properties.items():
        ET.SubElement(layer, "prop", {"k": key, "v": value})


def _labeling(parent: ET.Element, field: str, *, polygons: bool) -> None:
    labeling = ET.SubElement(parent, "labeling", {"type": "simple"})
    settings = ET.SubElement(labeling, "settings", {"calloutType": "simple"})
    ET.SubElement(
        settings,
        "text-style",
        {
            "fieldName": field,
            "isExpression": "0",
            "fontSize": "8",
            "fontSizeUnit": "Point",
            "fontWeight": "50",
            "textColor": "27,27,27,255",
            "textOpacity": "1",
            "multilineHeight": "1",
        },
    )
    ET.SubElement(
        settings,
        "text-buffer",
        {
            "bufferDraw": "1",
            "bufferSize": "0.8",
            "bufferSizeUnits": "MM",
            "bufferColor": "255,255,255,255",
            "bufferOpacity": "0.8",
            "bufferNoFill": "1",
            "bufferJoinStyle": "128",
        },
    )
    # Placement 1 = over the point (polygons: their inside), 0 = around the point.
    ET.SubElement(
        settings,
        "placement",
        {"placement": "1" if polygons else "0", "dist": "1", "distUnits": "MM"},
    )
    ET.SubElement(
        settings,
        "rendering",
        {"obstacle": "1", "displayAll": "0", "upsidedownLabels": "0", "fontLimitPixelSize": "0"},
    )


def categorized_qml(
    field: str,
    categories: Sequence[Category],
    *,
    geometry: str,
    label_field: str | None = None,
    aliases: Mapping[str, str] | None = None,
) -> str:
    """Return a QML style with a categorized renderer on ``field``.

    Parameters
    ----------
    field : str
        The attribute the classes are read from.
    categories : sequence of Category
        The classes, in legend order. Their symbols may mix types: QGIS draws
        each feature with its class's symbol, so points and polygons of one
        layer may each get theirs.
    geometry : str
        ``point``, ``line`` or ``polygon``: the layer's geometry type; ``mixed``
        for a layer of points and polygons (QGIS opens it as one sublayer per
        geometry type, and each takes the same style: the style then names no
        geometry type, and each class's symbol fits its kind's geometry).
    label_field : str, optional
        Label every feature with this field.
    aliases : mapping of str to str, optional
        Field → display name shown in QGIS's attribute table and forms, in the
        order of the layer's fields.

    Returns
    -------
    str
        The QML document.

    Examples
    --------
    >>> qml = categorized_qml("kind", [Category("school", "Trường học", "#1f77b4", "marker")],
    ...                       geometry="point")
    >>> '<renderer-v2 type="categorizedSymbol" attr="kind"' in qml
    True
    """
    geometry_types = {"point": "0", "line": "1", "polygon": "2", "mixed": ""}
    if geometry not in geometry_types:
        raise ValueError(f"geometry {geometry!r}: must be point, line, polygon or mixed")
    categories_used = ["Symbology", "Fields"] + (["Labeling"] if label_field else [])
    root = ET.Element(
        "qgis",
        {
            "version": QGIS_VERSION,
            "styleCategories": "|".join(categories_used),
            "labelsEnabled": "1" if label_field else "0",
        },
    )
    renderer = ET.SubElement(
        root,
        "renderer-v2",
        {
            "type": "categorizedSymbol",
            "attr": field,
            "symbollevels": "0",
            "enableorderby": "0",
            "forceraster": "0",
            "referencescale": "-1",
        },
    )
    listed = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for number, category in enumerate(categories):
        ET.SubElement(
            listed,
            "category",
            {
                "render": "true",
                "value": category.value,
                "symbol": str(number),
                "label": category.label,
                "type": "string",
            },
        )
        _symbol(symbols, str(number), category)
    source = ET.SubElement(renderer, "source-symbol")
    first = categories[0] if categories else Category("", "", NO_DATA_COLOR)
    _symbol(source, "0", first)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    if label_field:
        _labeling(root, label_field, polygons=geometry == "polygon")
    if aliases:
        listed_aliases = ET.SubElement(root, "aliases")
        for index, (name, alias) in enumerate(aliases.items()):
            ET.SubElement(
                listed_aliases, "alias", {"field": name, "index": str(index), "name": alias}
            )
    if geometry_types[geometry]:  # QGIS refuses a style made for another geometry type
        ET.SubElement(root, "layerGeometryType").text = geometry_types[geometry]
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


# ----------------------------------------------------------------------------- the run's styles


def _bilingual(label: Label) -> str:
    return f"{label.vi} / {label.en}"


def field_alias(column: str, labels: Mapping[str, Label] | None = None) -> str:
    """Return the Vietnamese display name of a field, with its unit (``Dân số (người)``)."""
    label = (labels or {}).get(column) or column_label(column)
    return f"{label.vi} ({label.unit})" if label.unit else label.vi


def status_categories(*, alpha: float) -> list[Category]:
    """Verdict classes in legend order, in the map's colours, with a no-data class last."""
    classes = [
        Category(status, _bilingual(label), STATUS_COLORS[status], alpha=alpha)
        for status, label in STATUS_LABELS.items()
    ]
    classes.append(Category("", _bilingual(NO_DATA_LABEL), NO_DATA_COLOR, alpha=alpha))
    return classes


def landuse_categories(codes: Sequence[str]) -> list[Category]:
    """One class per land-use code present, in the conventional colours of the map."""
    table = landuse_codes()
    classes = []
    for code in sorted(set(codes)):
        entry = table.get(code)
        label = f"{code} — {entry.vi}" if entry else code
        color = LANDUSE_COLORS.get(code, LANDUSE_UNKNOWN_COLOR)
        classes.append(Category(code, label, color, alpha=0.9, outline=_LANDUSE_OUTLINE, width=0.1))
    classes.append(
        Category("", _bilingual(NO_DATA_LABEL), LANDUSE_UNKNOWN_COLOR, alpha=0.9, width=0.1)
    )
    return classes


def kind_categories(kinds: Sequence[str]) -> list[Category]:
    """One class per infrastructure kind present (the map's icon colours), then *other*."""
    classes = []
    for kind in [k for k in INFRASTRUCTURE_LABELS if k in set(kinds) and k != "other"]:
        color = KIND_STYLES.get(kind, KIND_STYLES["other"])[0]
        classes.append(
            Category(
                kind,
                _bilingual(INFRASTRUCTURE_LABELS[kind]),
                color,
                "marker",
                outline="#ffffff",
                width=0.4,
                size=3.4,
            )
        )
    classes.append(
        Category(
            "",
            _bilingual(INFRASTRUCTURE_LABELS["other"]),
            KIND_STYLES["other"][0],
            "marker",
            outline="#ffffff",
            width=0.4,
            size=3.4,
        )
    )
    return classes


def surface_categories() -> list[Category]:
    """Road classes by surface, with the map's colours, widths and dashes."""
    classes = []
    for surface, (color, weight, dash) in SURFACE_STYLES.items():
        dashes = ";".join(f"{float(d) * _PX_MM:g}" for d in dash.split()) if dash else ""
        classes.append(
            Category(
                "" if surface == "unknown" else surface,
                _bilingual(SURFACE_LABELS[surface]),
                color,
                "line",
                width=round(weight * _PX_MM, 2),
                dash=dashes,
            )
        )
    # the catch-all class (unknown surface) last, as QGIS expects
    return sorted(classes, key=lambda c: c.value == "")


def finding_categories(kinds: Sequence[str]) -> list[Category]:
    """Coverage-finding classes: polygons (gaps, overlaps, uncovered land) and points."""
    classes = []
    for kind in sorted(set(kinds), key=lambda k: (k in _POINT_KINDS, k)):
        label = _bilingual(FINDING_LABELS.get(kind, FINDING_LABEL_OTHER))
        color = FINDING_COLORS.get(kind, FINDING_COLORS["other"])
        if kind in _POINT_KINDS:
            classes.append(
                Category(
                    kind, label, color, "marker", alpha=0.4, outline=color, width=0.5, size=3.2
                )
            )
        else:
            classes.append(Category(kind, label, color, alpha=0.35, outline=color, width=0.5))
    return classes


def _verdict_columns(columns: Sequence[str]) -> list[str]:
    """Return the verdict columns: the ward verdict first, then the New Rural one."""
    verdicts = [c for c in columns if c.endswith("_verdict")]
    return sorted(verdicts, key=lambda c: (c != "ward_verdict", c != "ntm_verdict", c))


@dataclass(frozen=True)
class LayerInfo:
    """What a style needs to know of a written layer."""

    name: str
    geometry: str
    columns: tuple[str, ...]
    values: Mapping[str, tuple[str, ...]]
    """Distinct values of the categorized fields (kind, code) present in the layer."""


def result_styles(
    layers: Sequence[LayerInfo], labels: Mapping[str, Label] | None = None
) -> list[Style]:
    """Return the styles of the result layers: one default per layer, extras for verdicts.

    Parameters
    ----------
    layers : sequence of LayerInfo
        The layers written to the GeoPackage (``units``, ``hamlets``,
        ``landuse_by_hamlet``, ``infrastructure``, ``roads``, ``findings``).
    labels : mapping of str to Label, optional
        Labels of fields that :func:`geo.labels.column_label` does not know.

    Returns
    -------
    list of Style
    """
    styles: list[Style] = []
    for layer in layers:
        aliases = {c: field_alias(c, labels) for c in layer.columns}
        if layer.name in ("units", "hamlets"):
            alpha = _UNIT_FILL_ALPHA if layer.name == "units" else _HAMLET_FILL_ALPHA
            verdicts = _verdict_columns(layer.columns)
            for number, column in enumerate(verdicts):
                qml = categorized_qml(
                    column,
                    status_categories(alpha=alpha),
                    geometry="polygon",
                    label_field="name" if "name" in layer.columns else None,
                    aliases=aliases,
                )
                label = column_label(column)
                styles.append(
                    Style(layer.name, column, qml, number == 0, f"{label.vi} / {label.en}")
                )
            if not verdicts:
                qml = categorized_qml(
                    "name",
                    [Category("", layer.name, "#ffffff", alpha=0.0)],
                    geometry="polygon",
                    label_field="name",
                    aliases=aliases,
                )
                styles.append(Style(layer.name, "outline", qml, True, "Ranh giới / Boundaries"))
        elif layer.name == "landuse_by_hamlet":
            qml = categorized_qml(
                "code",
                landuse_categories(layer.values.get("code", ())),
                geometry="polygon",
                aliases=aliases,
            )
            styles.append(Style(layer.name, "code", qml, True, "Hiện trạng sử dụng đất / Land use"))
        elif layer.name == "infrastructure":
            qml = categorized_qml(
                "kind",
                kind_categories(layer.values.get("kind", ())),
                geometry="point",
                label_field="name" if "name" in layer.columns else None,
                aliases=aliases,
            )
            styles.append(Style(layer.name, "kind", qml, True, "Hạ tầng / Infrastructure"))
        elif layer.name == "roads":
            qml = categorized_qml("surface", surface_categories(), geometry="line", aliases=aliases)
            styles.append(
                Style(layer.name, "surface", qml, True, "Đường theo mặt đường / Roads by surface")
            )
        elif layer.name == "findings":
            qml = categorized_qml(
                "kind",
                finding_categories(layer.values.get("kind", ())),
                geometry=layer.geometry,
                aliases=aliases,
            )
            styles.append(
                Style(layer.name, "kind", qml, True, "Phát hiện về dữ liệu / Data findings")
            )
    return styles


def write_layer_styles(path: str, styles: Sequence[Style]) -> None:
    """Add the styles to a GeoPackage's ``layer_styles`` table (created if needed).

    The table is registered in ``gpkg_contents`` as an attribute table, as
    QGIS and GDAL do, so GDAL-based readers (pyogrio, QGIS) list it.

    Parameters
    ----------
    path : str
        An existing GeoPackage holding the styled layers.
    styles : sequence of Style
        At most one default style per layer.
    """
    defaults = [s.layer for s in styles if s.default]
    repeated = sorted({name for name in defaults if defaults.count(name) > 1})
    if repeated:
        raise ValueError(f"more than one default style for {', '.join(repeated)}")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    with closing(sqlite3.connect(path)) as db, db:
        geometry_columns = dict(
            db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
        )
        db.execute(_CREATE_LAYER_STYLES)
        db.execute(
            "INSERT OR REPLACE INTO gpkg_contents "
            "(table_name, data_type, identifier, description, last_change) "
            "VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'QGIS styles (styleQML) of the result layers', ?)",
            (now,),
        )
        db.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            'f_geometry_column, "styleName", "styleQML", "styleSLD", "useAsDefault", '
            "description, owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', ?, ?, '', '', ?)",
            [
                (
                    style.layer,
                    geometry_columns.get(style.layer, "geom"),
                    style.name,
                    style.qml,
                    1 if style.default else 0,
                    style.description,
                    now,
                )
                for style in styles
            ],
        )
        has_counts = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'"
        ).fetchone()
        if has_counts:
            count = db.execute("SELECT count(*) FROM layer_styles").fetchone()[0]
            db.execute(
                "INSERT OR REPLACE INTO gpkg_ogr_contents (table_name, feature_count) "
                "VALUES ('layer_styles', ?)",
                (count,),
            )
