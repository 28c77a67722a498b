"""The Chinese words of error messages (issue 24): each field by its label, each allowed value by
its name, so neither a page nor the API's `message` shows `result-14`, `phone` or
`needs_improvement`. The field path and the codes stay in `details` and `message_en`.
"""

from __future__ import annotations

from workflows.event.machine import TRIGGER_LABELS_ZH as EVENT_TRIGGERS
from workflows.feedback.machine import TRIGGER_LABELS_ZH as FEEDBACK_TRIGGERS
from workflows.reporting.exports import (
    CATEGORIES_ZH,
    EVENT_STATES_ZH,
    FORMS_ZH,
    INVITATIONS_ZH,
    POSTS_ZH,
    SPOT_RESULTS_ZH,
    TARGETED_ZH,
)

# Every field a request or a page form can name (schemas/, the moves' data, public forms).
FIELD_LABELS = {
    "approve": "审批结果", "attendance": "出席情况", "attended": "是否出席",
    "campaign_id": "所属活动方案", "category": "人员类别", "challenge_answer": "验证题答案",
    "challenge_token": "验证题", "code": "查询码", "consent": "同意个人信息使用",
    "contact_email": "联系人邮箱", "contact_name": "联系人", "contact_phone": "联系人电话",
    "content": "意见建议内容", "count": "数量", "data": "操作数据", "date": "活动日期",
    "date_text": "日期说明", "display_name": "姓名", "district": "居住地（区县）",
    "doc_number": "文号", "due_on": "新的报送期限", "earliest": "最早日期",
    "email": "电子邮箱", "end_time": "结束时间", "ends_on": "结束日期",
    "escalation_delivery": "催办送达方式", "exclude": "排除的活动", "expected_version": "版本号",
    "expires_at": "有效期至", "findings": "走访发现", "forms": "组织形式",
    "head_email": "负责人邮箱", "head_name": "负责人", "head_phone": "负责人电话",
    "held_on": "开展日期", "held_until": "最后开展日期", "forms_held": "实际开展形式",
    "met_by": "面对面沟通人员", "post": "职务", "leader_mode": "无负责人出面时的处理",
    "invitees": "受邀人员", "id_number": "身份证号", "invitation": "邀请方式",
    "invited": "是否邀请", "issuing_office": "发文单位", "items": "意见建议", "kind": "类别",
    "latest": "最晚日期", "location": "活动地点", "name": "姓名", "new_due_on": "新的答复期限",
    "new_password": "新密码", "no_opinions": "无意见建议", "note": "备注", "notes": "抽查意见",
    "old_password": "原密码", "organization": "工作单位", "override_reason": "理由",
    "password": "密码", "people": "走访人员", "phone": "手机号码", "public_places": "公开名额",
    "raised_by_invitee_id": "提出人", "reason": "原因", "reasons": "退回原因",
    "requested_due_on": "申请的答复期限", "result": "抽查结果", "role": "角色", "rules": "规则",
    "seed": "抽样种子", "seq": "序号", "share": "抽查比例", "site_visit": "是否现场走访",
    "start_time": "开始时间", "starts_on": "开始日期", "statement": "说明", "strata": "分层方式",
    "targeted_kind": "定向邀请对象类型", "tentative": "暂定", "text": "总结内容",
    "theme": "活动主题", "title": "标题", "trigger": "操作", "unit_id": "责任单位",
    "unit_name": "责任单位", "username": "用户名", "visited_on": "走访日期",
    "webhook_format": "机器人消息格式", "webhook_url": "机器人地址", "answer": "答复内容",
    "file": "文件", "photos": "照片", "event_id": "活动", "version": "版本号",
    "answered_on": "答复日期", "received_on": "收到意见日期",
    "exempt": "不计扣分", "exempt_reason": "不计扣分理由",
    # the campaign's rules
    "invitees_min": "邀请人数下限", "invitees_max": "邀请人数上限",
    "invitee_count_mode": "邀请人数不符时的处理", "citizen_share_min": "市民代表最低比例",
    "citizen_share_mode": "市民代表比例不足时的处理", "attendees_min": "最少出席人数",
    "feedback_answer_workdays": "意见答复时限（工作日）", "summary_due_days": "总结报送时限（天）",
    "summary_min_attachments": "总结最少照片或文件数", "correction_workdays": "更正时限（工作日）",
    "rectification_workdays": "整改时限（工作日）", "notice": "整改要求", "report": "整改情况",
    "problem": "是否发现问题", "spot_check_id": "抽查轮次",
    "feedback_reminder_workdays_before": "意见答复提前提醒（工作日）",
    "summary_reminder_days_before": "总结报送提前提醒（天）", "reminder_hour": "提醒时刻",
    "reminder_days_before": "活动提前提醒参加人员（天）",
    "escalations": "催办级别", "level": "级别", "after_workdays": "逾期工作日数",
    "recipients": "催办对象", "digest_hour": "汇总发送时刻",
    "extensions_per_item": "每条意见可延期次数",
    "due_soon_days": "即将到期提示（天）", "public_min_age": "公开报名最低年龄",
    "public_districts": "公开报名限定区县", "public_once_per_campaign": "每人每次活动限报一场",
    "scoring": "考核计分规则",
}  # fmt: skip

# Every value a field may be limited to.
VALUE_NAMES = {
    **SPOT_RESULTS_ZH, **FORMS_ZH, **CATEGORIES_ZH, **INVITATIONS_ZH, **TARGETED_ZH,
    **EVENT_STATES_ZH, **FEEDBACK_TRIGGERS, **EVENT_TRIGGERS, **POSTS_ZH,
    "admin": "管理员", "supervisor": "督查人员", "unit_staff": "单位经办人", "viewer": "只读用户",
    "system_admin": "系统管理员", "security_admin": "安全管理员", "audit_admin": "审计管理员",
    "individual": "逐条发送", "digest": "汇总发送", "json": "通用 JSON", "wecom": "企业微信",
    "dingtalk": "钉钉", "unit_kind": "按单位类型", "town": "镇", "street_office": "街道办事处",
    "department": "区级部门", "institution": "事业单位", "window": "服务窗口", "other": "其他",
    "true": "是", "false": "否", "refuse": "拒绝", "flag": "记录并标记",
    "unit_contact": "单位联系人", "unit_head": "单位负责人", "supervisors": "区政府办督查人员",
}  # fmt: skip


def label(field: str) -> str:
    """A field's Chinese label (a list position as 第 N 项); the name itself if unknown."""
    return FIELD_LABELS.get(field, field)


def located(loc: list[str]) -> str:
    """A field's location in words: `body.3.phone` is 第 4 项的手机号码."""
    parts = [p for p in loc if p not in ("body", "query", "path", "data", "form")]
    words = [f"第 {int(p) + 1} 项" if p.isdigit() else label(p) for p in parts]
    if not words:
        return "请求内容"
    return "的".join(words)


def value_name(value: str) -> str:
    """An allowed value's Chinese name (with the value itself if it has none)."""
    return VALUE_NAMES.get(value, value)
