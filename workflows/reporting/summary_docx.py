"""A .docx draft of the district summary (总结报告) of a campaign, for the office to edit.

Headings, an introduction with the campaign's totals, the per-unit table, the overdue and late
items, the assessment ranking, the evidence flags, the rectifications and the on-site visits'
problems, and two charts drawn with matplotlib (Agg, no pyplot, so no global figure state) as
PNG images. python-docx and matplotlib are imported here, inside the functions, only when a
draft is generated: the API process does not carry them.

Chinese labels need a CJK font: the first installed of CJK_FONTS (Debian: fonts-noto-cjk) is
used; without one the charts fall back to English labels rather than show empty boxes.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from workflows.accounts import districts
from workflows.campaign import service as campaigns
from workflows.files.store import FileStore
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh, moment_zh
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import SOLE_OFFICE, Actor
from workflows.oversight.evidence import EventEvidence, flagged_in_campaign
from workflows.reporting.assessment import assess
from workflows.reporting.reports import Facts, cancellation_zh, collect, report

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "Noto Sans CJK JP",  # the same glyph set, first face of the Noto .ttc
)
CHART_UNITS = 20  # bars per chart: the units with the most to show
TABLE_ROWS = 500  # overdue/late rows in the draft; the rest are in the overdue export
UNIT_COLUMNS = [
    ("events", "活动数"),
    ("held", "已开展"),
    ("held_on_time", "按期开展"),
    ("invitees", "邀请人数"),
    ("attended", "出席人数"),
    ("opinions", "意见建议"),
    ("answered_on_time", "按时答复"),
    ("answered_late", "逾期答复"),
    ("open_overdue", "逾期未答复"),
    ("answered_backdated", "补录答复"),
    ("summaries_on_time", "总结按时"),
    ("reworks", "退回整改"),
]


def cjk_font() -> str | None:
    """The first installed CJK font matplotlib can use, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


INTRO = (
    "截至{today:%Y}年{today.month}月{today.day}日，{whole} {units} 个责任单位共安排政府开放日活动 "
    "{events} 场（其中经批准取消 {cancelled} 场，取消不计扣分 {cancelled_exempt} 场），已到期 "
    "{due} 场，已开展 {held} 场，其中按期开展 {held_on_time} 场、"
    "逾期开展 {held_late} 场，逾期未开展 {not_held_overdue} 场。共邀请 {invitees} 人（人大代表 "
    "{npc_deputy} 人、政协委员 {cppcc_member} 人、市民代表 {citizen} 人，其中定向邀请 "
    "{citizen_targeted} 人、公开邀请 {citizen_public} 人），实际出席 {attended} 人。收集意见建议 "
    "{opinions} 条，已答复 {answered} 条，其中按时答复 {answered_on_time} 条、逾期答复 "
    "{answered_late} 条（累计超期 {workdays_late} 个工作日），逾期未答复 {open_overdue} 条；"
    "申请延期 {extensions} 件，批准 {extensions_approved} 件。报送活动总结 {summaries} 份，按时 "
    "{summaries_on_time} 份、逾期 {summaries_late} 份，退回整改 {reworks} 次；抽查合格 "
    "{spot_satisfactory} 轮、需整改 {spot_needs_improvement} 轮、不合格 {spot_unsatisfactory} 轮。"
)


def intro(data: dict[str, Any], units: int, today: date) -> str:
    """The introduction: the campaign's totals in one paragraph."""
    whole = districts.whole_of(data.get("office", SOLE_OFFICE))
    return INTRO.format(**data["totals"], units=units, today=today, whole=whole)


def late_items(facts: Facts) -> list[tuple[str, str, Any, Any, str]]:
    """(unit, kind, event id, opinion id, what) for everything overdue or late."""
    rows: list[tuple[str, str, Any, Any, str]] = []
    for u in facts.units.values():
        for r in u.not_held:
            cancelled = (
                f"（已取消，理由：{r.get('cancel_reason') or '未说明'}；取消计扣分）"
                if r.get("cancelled")
                else ""
            )
            rows.append((u.unit_name, "活动未开展", r["event_id"], None,
                         f"应于 {r['due_on']} 前开展{cancelled}"))  # fmt: skip
        for r in u.held_late:
            rows.append((u.unit_name, "活动逾期开展", r["event_id"], None,
                         f"应于 {r['due_on']} 前开展，实际 {r['held_on']}"))  # fmt: skip
        for r in u.open_overdue:
            rows.append((u.unit_name, "意见逾期未答复", r["event_id"], r["item_id"],
                         f"应于 {r['due_on']} 前答复"))  # fmt: skip
        for r in u.late_answers:
            rows.append((u.unit_name, "意见逾期答复", r["event_id"], r["item_id"],
                         f"逾期 {r['workdays_late']} 个工作日"))  # fmt: skip
        for r in u.late_summaries:
            rows.append((u.unit_name, "总结逾期报送", r["event_id"], None,
                         f"首次报送逾期 {r['late_hours']} 小时"))  # fmt: skip
        for r in u.summary_missing:
            rows.append((u.unit_name, "总结逾期未报送", r["event_id"], None,
                         f"应于 {r['due_on']} 前报送"))  # fmt: skip
    return rows


def _bar_chart(
    labels: list[str],
    series: list[tuple[str, list[int], str]],
    title: str,
    font: str | None,
) -> bytes:
    """A horizontal stacked bar chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        height = max(2.8, 0.35 * len(labels) + 1.6)
        fig = Figure(figsize=(7.5, height), dpi=120)
        ax = fig.add_subplot()
        left = [0] * len(labels)
        for name, values, color in series:
            ax.barh(labels, values, left=left, label=name, color=color)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_title(title)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(series),
                  fontsize=8, frameon=False)  # fmt: skip
        locator = ax.xaxis.get_major_locator()  # the default AutoLocator is a MaxNLocator
        if isinstance(locator, MaxNLocator):
            locator.set_params(integer=True)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()


def charts(data: dict[str, Any], font: str | None) -> list[tuple[str, bytes]]:
    """(caption, PNG) of the two charts: events held on time by unit, and overdue answers."""
    zh = font is not None
    rows = data["units"]
    held = sorted(rows, key=lambda r: (-r["events"], r["unit_name"]))[:CHART_UNITS]
    names = [r["unit_name"] if zh else f"Unit {r['unit_id']}" for r in held]
    first = _bar_chart(
        names,
        [
            ("按期开展" if zh else "held on time", [r["held_on_time"] for r in held], "#2e7d32"),
            ("逾期开展" if zh else "held late", [r["held_late"] for r in held], "#f9a825"),
            (
                "逾期未开展" if zh else "not held, overdue",
                [r["not_held_overdue"] for r in held],
                "#c62828",
            ),
            (
                "尚未到期或取消不计扣分" if zh else "not yet due, or cancelled and exempt",
                [max(0, r["events"] - r["held"] - r["not_held_overdue"]) for r in held],
                "#90a4ae",
            ),
        ],  # fmt: skip
        "各单位活动开展情况" if zh else "Events by unit",
        font,
    )
    late = [r for r in rows if r["answered_late"] or r["open_overdue"]]
    late = sorted(late, key=lambda r: (-(r["answered_late"] + r["open_overdue"]), r["unit_name"]))
    late = late[:CHART_UNITS]
    second = _bar_chart(
        [r["unit_name"] if zh else f"Unit {r['unit_id']}" for r in late] or ["—"],
        [
            (
                "逾期答复" if zh else "answered late",
                [r["answered_late"] for r in late] or [0],
                "#f9a825",
            ),
            (
                "逾期未答复" if zh else "unanswered, overdue",
                [r["open_overdue"] for r in late] or [0],
                "#c62828",
            ),
        ],  # fmt: skip
        "各单位意见逾期答复情况" if zh else "Overdue answers by unit",
        font,
    )
    return [
        (f"图1 各单位活动开展情况（活动数最多的前 {CHART_UNITS} 个单位）", first),
        (f"图2 各单位意见逾期答复情况（前 {CHART_UNITS} 个单位）", second),
    ]


def district_draft(
    session: Session, actor: Actor, campaign_id: int, now: datetime, store: FileStore
) -> bytes:
    """The district summary draft of a campaign (supervisors, viewers, administrators: it
    covers every unit), with the evidence flags of the summaries' photos."""
    if not actor.sees_all_units:
        raise Forbidden(
            "supervisor_required",
            f"{districts.whole_of(actor.office_zh)}总结报告仅供{actor.office_zh}人员下载",
            "the district summary is for district-office accounts",
        )
    campaigns.get(session, campaign_id, actor)  # another district's: 404
    facts = collect(session, campaign_id, now)
    flagged = flagged_in_campaign(session, campaign_id, store)
    return build(facts, flagged, local_date(now))


def build(facts: Facts, flagged: list[EventEvidence], today: date) -> bytes:
    """The draft as .docx bytes."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    data = report(facts)
    scores = assess(facts)
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(11)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), "宋体")

    campaign = facts.campaign
    document.add_heading(f"{campaign.title}总结报告（草稿）", level=0)
    meta = document.add_paragraph(f"依据：{campaign.doc_number} · 统计截至 {today.isoformat()}")
    meta.alignment = WD_ALIGN_PARAGRAPH.CENTER

    document.add_heading("一、总体情况", level=1)
    document.add_paragraph(intro(data, len(data["units"]), today))

    document.add_heading("二、各单位开展情况", level=1)
    header = ["责任单位"] + [label for _, label in UNIT_COLUMNS]
    body = [[r["unit_name"], *(r[k] for k, _ in UNIT_COLUMNS)] for r in data["units"]]
    whole = districts.whole_of(data.get("office", SOLE_OFFICE))
    body.append([f"{whole}合计", *(data["totals"][k] for k, _ in UNIT_COLUMNS)])
    _table(document, header, body)
    font = cjk_font()
    pictures = charts(data, font)
    _picture(document, *pictures[0], Cm(16))

    document.add_heading("三、逾期情况", level=1)
    _overdue_section(document, late_items(facts))
    _picture(document, *pictures[1], Cm(16))
    _cancelled_section(document, data["cancellations"])
    _backdated_section(document, facts)

    document.add_heading("四、考核排名", level=1)
    _ranking_section(document, scores)

    document.add_heading("五、图文资料核验", level=1)
    _evidence_section(document, flagged)

    document.add_heading("六、现场走访与整改", level=1)
    _oversight_section(document, facts)

    document.add_heading("七、下一步工作", level=1)
    document.add_paragraph("（请在此补充存在的问题和下一步工作安排。）")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _overdue_section(document: Any, items: list[Any]) -> None:
    """Section 三: the overdue items, the first TABLE_ROWS of them, and how many more."""
    if items:
        shown = items[:TABLE_ROWS]
        _table(document, ["责任单位", "事项", "活动编号", "意见编号", "情况"], shown)
        if len(items) > len(shown):
            document.add_paragraph(
                f"另有 {len(items) - len(shown)} 项未列出，详见导出的逾期清单与考核扣分明细。"
            )
    else:
        document.add_paragraph("无逾期事项。")


def _cancelled_section(document: Any, cancellations: list[dict[str, Any]]) -> None:
    """Section 三, continued: every approved cancellation, its reason and how it counts."""
    document.add_heading("已取消的活动", level=2)
    if not cancellations:
        document.add_paragraph("无取消的活动。")
        return
    _table(
        document,
        ["责任单位", "活动编号", "活动主题", "取消理由", "考核"],
        [[c["unit_name"], c["event_id"], c["theme"], c["reason"], cancellation_zh(c)]
         for c in cancellations],
    )  # fmt: skip


def _backdated_section(document: Any, facts: Facts) -> None:
    """Section 三, continued: answers entered after the day they were given — who typed them in
    and when."""
    document.add_heading("补录的答复", level=2)
    rows = [
        [u.unit_name, r["item_id"], day_zh(r["answered_on"]), r["answered_by"],
         moment_zh(r["answered_at"])]
        for u in facts.units.values() for r in u.backdated_answers
    ]  # fmt: skip
    if not rows:
        document.add_paragraph("无补录的答复。")
        return
    _table(document, ["责任单位", "意见编号", "答复日期", "录入人", "录入时间"], rows[:TABLE_ROWS])
    if len(rows) > TABLE_ROWS:
        document.add_paragraph(f"另有 {len(rows) - TABLE_ROWS} 条未列出，详见导出的意见清单。")


def _ranking_section(document: Any, scores: dict[str, Any]) -> None:
    """Section 四: the units ranked by their assessment score."""
    document.add_paragraph(f"满分 {scores['rules']['base_points']} 分，按活动批次的考核规则扣分。")
    _table(
        document,
        ["排名", "责任单位", "得分", "扣分", "扣分项数"],
        [
            [s["rank"], s["unit_name"], s["score"], s["deducted"], len(s["deductions"])]
            for s in scores["units"]
        ],  # fmt: skip
    )


def _evidence_section(document: Any, flagged: list[EventEvidence]) -> None:
    """Section 五: the events whose summary photos were flagged."""
    if flagged:
        _table(
            document,
            ["活动编号", "责任单位", "活动主题", "发现", "总结报送"],
            [
                [ev.event_id, ev.unit_name, ev.theme, "；".join(ev.notes_zh()), ev.summary_zh()]
                for ev in flagged
            ],  # fmt: skip
        )
    else:
        document.add_paragraph("未发现拍摄日期不符、无拍摄日期或重复使用的照片。")


RECT_STATE_ZH = {"issued": "待整改", "reported": "待审核", "closed": "已销号"}


def _oversight_section(document: Any, facts: Facts) -> None:
    """Section 六: every rectification notice, and the on-site visits whose findings are a
    problem."""
    document.add_heading("整改情况", level=2)
    rects = [(u.unit_name, r) for u in facts.units.values() for r in u.rectifications]
    if rects:
        _table(
            document,
            ["责任单位", "整改编号", "活动编号", "抽查轮次", "整改期限", "状态", "是否逾期"],
            [[name, r["rectification_id"], r["event_id"], f"第 {r['round']} 轮", r["due_on"],
              RECT_STATE_ZH.get(r["state"], r["state"]), "逾期" if r["overdue"] else "否"]
             for name, r in rects],
        )  # fmt: skip
    else:
        document.add_paragraph("无整改通知。")
    document.add_heading("现场走访发现的问题", level=2)
    problems = [(u.unit_name, r) for u in facts.units.values() for r in u.visit_problems]
    if problems:
        _table(
            document,
            ["责任单位", "活动编号", "走访日期", "抽查轮次", "发现的问题"],
            [[name, r["event_id"], r["visited_on"],
              f"第 {r['round']} 轮" if r.get("round") else "", r["findings"]]
             for name, r in problems],
        )  # fmt: skip
    else:
        document.add_paragraph("现场走访未发现问题。")


def _table(document: Any, header: list[str], rows: list[Any]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = "" if value is None else str(value)


def _picture(document: Any, caption: str, png: bytes, width: Any) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document.add_picture(io.BytesIO(png), width=width)
    document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    note = document.add_paragraph(caption)
    note.alignment = WD_ALIGN_PARAGRAPH.CENTER
