"""Back office for the chat: teams with their hours, closures, agent profiles, canned
responses; conversations and tickets are read-only (services write them)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from simcare.admin_site import ReadOnlyModelAdmin
from simcare.care.models import (
    AgentProfile,
    CannedResponse,
    Closure,
    Conversation,
    OpeningHours,
    SatisfactionRating,
    SlaPolicy,
    Team,
    Ticket,
)


class OpeningHoursInline(TabularInline):
    model = OpeningHours
    extra = 0


@admin.register(Team)
class TeamAdmin(ModelAdmin):
    list_display = ("name", "time_zone", "province", "is_default", "lead")
    inlines = (OpeningHoursInline,)


@admin.register(Closure)
class ClosureAdmin(ModelAdmin):
    list_display = ("date", "team", "reason")
    list_filter = ("team",)


@admin.register(AgentProfile)
class AgentProfileAdmin(ModelAdmin):
    list_display = ("user", "team", "languages", "max_concurrent_chats", "is_available")
    list_filter = ("team", "is_available")
    autocomplete_fields = ("user",)


@admin.register(CannedResponse)
class CannedResponseAdmin(ModelAdmin):
    list_display = ("title", "language")
    list_filter = ("language",)
    search_fields = ("title", "body")


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyModelAdmin):
    list_display = ("public_id", "status", "language", "is_vip", "agent", "created_at")
    list_filter = ("status", "language", "is_vip")
    search_fields = ("public_id", "visitor_name", "visitor_contact")


@admin.register(Ticket)
class TicketAdmin(ReadOnlyModelAdmin):
    list_display = ("number", "source", "status", "priority", "subject", "assignee", "created_at")
    list_filter = ("source", "status", "priority")
    search_fields = ("number", "subject")


@admin.register(SlaPolicy)
class SlaPolicyAdmin(ModelAdmin):
    list_display = (
        "priority",
        "first_response_minutes",
        "resolution_minutes",
        "resolution_business_days",
    )


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(ReadOnlyModelAdmin):
    list_display = ("score", "conversation", "ticket", "agent", "team", "language", "created_at")
    list_filter = ("score", "language", "team")
