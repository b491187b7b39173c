"""The help center: search the knowledge base as you type, and say whether an answer helped.

GET /<lang>/help/?q=… renders the page, or only the results for htmx (HX-Request);
POST /<lang>/help/feedback/ records "was this helpful?" once per article per session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST

from simcare.care import queries, retrieval, services
from simcare.care.bot import confidence_threshold

MAX_QUERY = 300
RESULTS_SHOWN = 5
RELATIVE_CUTOFF = 0.4
VOTED_SESSION_KEY = "care_feedback_slugs"
# Feedback is anonymous: a client without cookies could otherwise add rows forever.
FEEDBACK_PER_HOUR = 60


@dataclass(frozen=True)
class Result:
    slug: str
    question: str
    answer: str


def _language() -> str:
    return retrieval.normalize_language(get_language()) or "en"


def search_results(query: str, language: str) -> list[Result]:
    hits = queries.index_for(language).search(query, limit=RESULTS_SHOWN)
    # A match on one common word is noise on a help page: keep the articles that
    # share enough of the query (half the bot's threshold, which answers with one
    # article only) and rank near the best.
    best = hits[0].bm25 if hits else 0.0
    slugs = [
        hit.slug
        for hit in hits
        if hit.confidence >= confidence_threshold() / 2 and hit.bm25 >= RELATIVE_CUTOFF * best
    ]
    texts = queries.translations_by_slug(slugs, language)
    return [
        Result(slug, texts[slug].question, texts[slug].answer) for slug in slugs if slug in texts
    ]


@require_GET
def help_center(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    language = _language()
    context = {
        "query": query,
        "results": search_results(query, language) if query else [],
        "voted": set(request.session.get(VOTED_SESSION_KEY, [])),
    }
    if request.headers.get("HX-Request") == "true":
        return render(request, "care/_results.html", context)
    return render(request, "care/help.html", context)


@require_POST
def feedback(request: HttpRequest) -> HttpResponse:
    language = _language()
    slug = request.POST.get("slug", "")
    query = request.POST.get("q", "").strip()[:MAX_QUERY]
    helpful = request.POST.get("helpful")
    article = queries.published_articles().filter(slug=slug).first()
    if article is None or helpful not in {"yes", "no"}:
        return render(request, "care/_feedback.html", {"state": "invalid"}, status=400)
    voted: list[str] = list(request.session.get(VOTED_SESSION_KEY, []))
    if slug not in voted and not _within_feedback_limit(request):
        return render(request, "care/_feedback.html", {"state": "limited"}, status=429)
    if slug not in voted:
        services.record_feedback(
            article, language=language, is_helpful=helpful == "yes", question=query
        )
        request.session[VOTED_SESSION_KEY] = [*voted, slug][-200:]
    if request.headers.get("HX-Request") == "true":
        return render(request, "care/_feedback.html", {"state": "thanks", "article": article})
    target = reverse("care:help")
    if query:
        target += "?" + urlencode({"q": query})
    return HttpResponseRedirect(f"{target}#article-{slug}")


def _within_feedback_limit(request: HttpRequest) -> bool:
    """Counts this address's feedback in the current hour (the shared cache: Redis or the
    database), refusing past FEEDBACK_PER_HOUR."""
    hour = int(time.time() // 3600)
    key = f"care:feedback:{request.META.get('REMOTE_ADDR', '')}:{hour}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        count = 1
    return count <= FEEDBACK_PER_HOUR
