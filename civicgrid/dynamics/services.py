"""Writes of work-dynamics posts: draft, edit, publish, withdraw, pin, delete a draft, count a view.

Who may do what (function permissions from ``permissions.ROLE_GRANTS``, data scope from posts):

- writing a post (draft, edit, publish, pin, delete a draft) is for the community or street that
  posts it: the actor holds the permission in a post *at that very area* (a street official writes
  the street's posts, not those of the communities below it);
- withdrawing is for anyone holding ``dynamics.withdraw_post`` over the post's area (the area itself
  or a level above it), with a reason;
- ``actor=None`` is the system (demo data, commands).

Every step locks the post, checks its state (a ``ConflictError`` names the state when the step is
not possible now, or when ``expected_version`` is stale), writes its ``PostEvent`` in the same
transaction (the post's own change is change-logged by the audit signals) and re-checks the post
is still in the actor's scope. Pictures are checked and re-encoded before anything is written;
an error names the field (``cover`` or ``pictures``) and the file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civicgrid.areas.choices import AreaLevel
from civicgrid.areas.models import Area
from civicgrid.core import scope
from civicgrid.core.services import ConflictError, ensure_in_scope
from civicgrid.notify.services import notify

from .choices import EventKind, PictureKind, Status
from .models import BODY_MAX, MAX_PICTURES, REASON_MAX, TITLE_MAX, Post, PostEvent, PostPicture
from .pictures import PreparedPicture, prepare_picture

#: Levels of the areas that post work dynamics.
AUTHOR_LEVELS = (AreaLevel.COMMUNITY, AreaLevel.STREET)
ALL_STATUSES = tuple(Status.values)
#: Marks an argument of ``post_edit`` that was not given (None is a value for some).
UNSET = object()

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029]")


# ---- rules -----------------------------------------------------------------------------------


def can_author(user, perm: str, area_code: str) -> bool:
    """Whether ``user`` writes posts of the area with ``area_code``: a post granting ``perm`` held
    at exactly that area (or over all data). ``None`` is the system."""
    if user is None:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    for post in scope.user_scopes(user):
        if perm not in post.perms:
            continue
        if post.data_scope == scope.DataScope.ALL:
            return True
        if post.data_scope in (scope.DataScope.SUBTREE, scope.DataScope.NODE) and post.area_code == area_code:
            return True
    return False


def clean_title(value) -> str:
    """One line: control characters dropped, runs of white space made one space."""
    return " ".join(_CONTROL.sub("", str(value or "")).split())


def clean_body(value) -> str:
    """Plain text in paragraphs: line ends made ``\\n``, control characters dropped, trailing spaces
    removed and more than one blank line between paragraphs made one. Never HTML: pages escape it."""
    text = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _merge(errors: dict, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    else:
        errors.setdefault("non_field_errors", []).extend(exc.messages)


def _check_area(actor, area: Area | None, perm: str) -> None:
    if area is None:
        raise ValidationError({"area": _("Choose the community or street that posts this.")})
    if area.level not in AUTHOR_LEVELS or not area.is_active:
        raise ValidationError({"area": _("Work dynamics are posted by a community or a street.")})
    if not can_author(actor, perm, area.scope_code):
        raise ValidationError({"area": _("You may post only for your own community or street.")})


def _check_title(title: str, errors: dict) -> None:
    if not title:
        errors.setdefault("title", []).append(_("Give the post a title."))
    elif len(title) > TITLE_MAX:
        errors.setdefault("title", []).append(_("A title has at most %(n)d characters.") % {"n": TITLE_MAX})


def _check_body(body: str, errors: dict) -> None:
    if len(body) > BODY_MAX:
        errors.setdefault("body", []).append(_("The text has at most %(n)d characters.") % {"n": BODY_MAX})


def _too_many() -> str:
    return ngettext(
        "A post has at most %(n)d picture besides its cover.",
        "A post has at most %(n)d pictures besides its cover.",
        MAX_PICTURES,
    ) % {"n": MAX_PICTURES}


def _prepare(cover, pictures: list, errors: dict) -> tuple[PreparedPicture | None, list[PreparedPicture]]:
    """Check and re-encode every upload before anything is written; errors are collected."""
    prepared_cover = None
    if cover:
        try:
            prepared_cover = prepare_picture(cover, field="cover")
        except ValidationError as exc:
            _merge(errors, exc)
    prepared = []
    for upload in pictures:
        try:
            prepared.append(prepare_picture(upload, field="pictures"))
        except ValidationError as exc:
            _merge(errors, exc)
    return prepared_cover, prepared


def _storage():
    return PostPicture._meta.get_field("image").storage


@contextmanager
def _files_guard():
    """Names of the files stored in the block; they are deleted again when the block fails."""
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        storage = _storage()
        for name in stored:
            try:
                storage.delete(name)
            except OSError:
                pass
        raise


def _discard_files_on_commit(names: Iterable[str]) -> None:
    names = [n for n in names if n]
    if not names:
        return
    storage = _storage()

    def discard():
        for name in names:
            try:
                storage.delete(name)
            except OSError:
                pass

    transaction.on_commit(discard)


def _picture_files(pictures: Iterable[PostPicture]) -> list[str]:
    return [name for p in pictures for name in (p.image.name, p.thumbnail.name) if name]


def _store(
    post: Post, prepared: PreparedPicture, kind: str, position: int, actor, stored: list
) -> PostPicture:
    picture = PostPicture(post=post, kind=kind, position=position, uploaded_by=actor, size=prepared.size)
    picture.image.save(prepared.image.name, prepared.image, save=False)
    stored.append(picture.image.name)
    picture.thumbnail.save(prepared.thumbnail.name, prepared.thumbnail, save=False)
    stored.append(picture.thumbnail.name)
    picture.width, picture.height = prepared.width, prepared.height
    picture.save()
    return picture


def _event(post: Post, kind: str, actor, *, from_status: str, note: str = "", data=None) -> PostEvent:
    return PostEvent.objects.create(
        post=post,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=post.status,
        note=note[:REASON_MAX],
        data=data or {},
    )


def _lock(
    post: Post | int,
    actor,
    action: str,
    allowed: Iterable[str],
    *,
    expected_version=None,
    author_perm: str | None = None,
    state_message: str | None = None,
) -> Post:
    """The post, locked for the rest of the transaction, after checking the actor may ``action`` it
    (and, for writing steps, writes the posts of its area) and that its state allows the step."""
    pk = post if isinstance(post, int) else post.pk
    qs = Post.objects.select_for_update(of=("self",)).select_related("area")
    if actor is not None:
        qs = qs.visible_to(actor, action)
    fresh = qs.filter(pk=pk).first()
    if fresh is None:
        raise PermissionDenied(_("You may not do this on this post."))
    if author_perm and not can_author(actor, author_perm, fresh.area_code):
        raise PermissionDenied(_("Only the community or street that posts it may do this."))
    if expected_version is not None and int(expected_version) != fresh.version:
        raise ConflictError(
            _("Somebody changed this post in the meantime (it is now %(status)s); reload and try again.")
            % {"status": fresh.get_status_display()}
        )
    if fresh.status not in allowed:
        raise ConflictError(
            state_message
            or _("This step is not possible while the post is %(status)s.")
            % {"status": fresh.get_status_display()},
            code="invalid_state",
        )
    fresh.snapshot()
    return fresh


def _save(post: Post, fields: Iterable[str]) -> None:
    post.version += 1
    post.full_clean(
        exclude=["area", "author", "created_by", "published_by", "withdrawn_by"],
        validate_unique=False,
        validate_constraints=False,
    )
    post.save(update_fields={*fields, "version", "updated_at"})


def _detail_url(post: Post) -> str:
    return reverse("dynamics:detail", args=[post.pk])


# ---- steps -----------------------------------------------------------------------------------


def post_draft(
    *, actor, area: Area, title: str, body: str = "", cover=None, pictures=(), publish: bool = False
) -> Post:
    """A new draft of ``area`` (a community or street the actor posts for), with an optional cover
    and up to nine pictures; ``publish`` publishes it at once (all or nothing)."""
    errors: dict = {}
    try:
        _check_area(actor, area, "dynamics.add_post")
    except ValidationError as exc:
        _merge(errors, exc)
    if publish and area is not None and not can_author(actor, "dynamics.publish_post", area.scope_code):
        raise PermissionDenied(_("Only the community or street that posts it may do this."))
    title, body = clean_title(title), clean_body(body)
    _check_title(title, errors)
    _check_body(body, errors)
    if publish and not body:
        errors.setdefault("body", []).append(_("Write the text before publishing."))
    pictures = [p for p in (pictures or ()) if p]
    if len(pictures) > MAX_PICTURES:
        errors.setdefault("pictures", []).append(_too_many())
        pictures = []
    prepared_cover, prepared = _prepare(cover, pictures, errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), _files_guard() as stored:
        post = Post(area=area, title=title, body=body, author=actor, created_by=actor)
        post.full_clean(exclude=["area", "author", "created_by"], validate_constraints=False)
        post.save()
        if prepared_cover is not None:
            _store(post, prepared_cover, PictureKind.COVER, 0, actor, stored)
        for position, picture in enumerate(prepared):
            _store(post, picture, PictureKind.PICTURE, position, actor, stored)
        _event(
            post,
            EventKind.DRAFTED,
            actor,
            from_status="",
            data={"cover": prepared_cover is not None, "pictures": len(prepared)},
        )
        ensure_in_scope(post, actor, "add")
        if publish:
            post = post_publish(actor=actor, post=post)
    return post


def post_edit(
    *,
    actor,
    post: Post,
    expected_version=None,
    title=UNSET,
    body=UNSET,
    area=UNSET,
    cover=None,
    remove_cover: bool = False,
    pictures=(),
    remove_pictures: Iterable = (),
) -> Post:
    """Change a post's text, area (drafts only), cover and pictures. A published post stays
    published (the edit is in its history). Nothing changed: nothing written."""
    errors: dict = {}
    pictures = [p for p in (pictures or ()) if p]
    if len(pictures) > MAX_PICTURES:
        errors.setdefault("pictures", []).append(_too_many())
        pictures = []
    prepared_cover, prepared = _prepare(cover, pictures, errors)
    remove_ids = set()
    for value in remove_pictures or ():
        try:
            remove_ids.add(int(getattr(value, "pk", value)))
        except (TypeError, ValueError):
            errors.setdefault("remove_pictures", []).append(_("Not a picture of this post."))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(), _files_guard() as stored:
        fresh = _lock(
            post,
            actor,
            "change",
            ALL_STATUSES,
            expected_version=expected_version,
            author_perm="dynamics.change_post",
        )
        changed: list[str] = []
        if title is not UNSET:
            new_title = clean_title(title)
            _check_title(new_title, errors)
            if new_title != fresh.title:
                fresh.title = new_title
                changed.append("title")
        if body is not UNSET:
            new_body = clean_body(body)
            _check_body(new_body, errors)
            if not new_body and fresh.status == Status.PUBLISHED:
                errors.setdefault("body", []).append(_("A published post needs its text."))
            if new_body != fresh.body:
                fresh.body = new_body
                changed.append("body")
        if area is not UNSET and (area is None or area.pk != fresh.area_id):
            if fresh.status != Status.DRAFT:
                errors.setdefault("area", []).append(
                    _("Only a draft can move to another community or street.")
                )
            else:
                try:
                    _check_area(actor, area, "dynamics.add_post")
                except ValidationError as exc:
                    _merge(errors, exc)
                else:
                    fresh.area = area
                    changed.append("area")

        existing = list(fresh.pictures.all())
        own_ids = {p.pk for p in existing}
        if remove_ids - own_ids:
            errors.setdefault("remove_pictures", []).append(_("Not a picture of this post."))
        old_cover = next((p for p in existing if p.kind == PictureKind.COVER), None)
        drop = [p for p in existing if p.pk in remove_ids]
        if old_cover is not None and (remove_cover or prepared_cover is not None) and old_cover not in drop:
            drop.append(old_cover)
        kept = [p for p in existing if p.kind == PictureKind.PICTURE and p not in drop]
        if len(kept) + len(prepared) > MAX_PICTURES:
            errors.setdefault("pictures", []).append(_too_many())
        if errors:
            raise ValidationError(errors)

        if drop:
            PostPicture.objects.filter(pk__in=[p.pk for p in drop]).delete()
            _discard_files_on_commit(_picture_files(drop))
        for position, picture in enumerate(kept):
            if picture.position != position:
                picture.position = position
                picture.save(update_fields=["position", "updated_at"])
        if prepared_cover is not None:
            _store(fresh, prepared_cover, PictureKind.COVER, 0, actor, stored)
        for offset, picture in enumerate(prepared):
            _store(fresh, picture, PictureKind.PICTURE, len(kept) + offset, actor, stored)

        data: dict = {"fields": changed}
        removed = [p for p in drop if p.kind == PictureKind.PICTURE]
        if removed:
            data["pictures_removed"] = len(removed)
        if prepared:
            data["pictures_added"] = len(prepared)
        if prepared_cover is not None:
            data["cover"] = "replaced" if old_cover is not None else "added"
        elif old_cover is not None and old_cover in drop:
            data["cover"] = "removed"
        if len(data) == 1 and not changed:
            return fresh
        _save(fresh, changed)
        _event(fresh, EventKind.EDITED, actor, from_status=fresh.status, data=data)
        ensure_in_scope(fresh, actor, "change")
    return fresh


def post_publish(*, actor, post: Post, expected_version=None) -> Post:
    """Publish a draft (or a withdrawn post again): residents see it from now on."""
    with transaction.atomic():
        fresh = _lock(
            post,
            actor,
            "publish",
            (Status.DRAFT, Status.WITHDRAWN),
            expected_version=expected_version,
            author_perm="dynamics.publish_post",
            state_message=_("This post is already published."),
        )
        errors: dict = {}
        if not fresh.title:
            errors["title"] = [_("Give the post a title.")]
        if not fresh.body:
            errors["body"] = [_("Write the text before publishing.")]
        if errors:
            raise ValidationError(errors)
        from_status = fresh.status
        fresh.status = Status.PUBLISHED
        fresh.published_at = timezone.now()
        fresh.published_by = actor
        fresh.withdrawn_at, fresh.withdrawn_by, fresh.withdraw_reason = None, None, ""
        _save(
            fresh,
            ["status", "published_at", "published_by", "withdrawn_at", "withdrawn_by", "withdraw_reason"],
        )
        _event(fresh, EventKind.PUBLISHED, actor, from_status=from_status)
        ensure_in_scope(fresh, actor, "view")
    return fresh


def post_withdraw(*, actor, post: Post, reason: str, expected_version=None) -> Post:
    """Take a published post down, saying why; residents no longer see it. Also for the levels
    above the area (street, district, city) within their scope. The author is told when someone
    else withdrew it."""
    reason = clean_title(reason)
    if not reason:
        raise ValidationError({"reason": _("Say why the post is withdrawn.")})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("At most %(n)d characters.") % {"n": REASON_MAX}})
    with transaction.atomic():
        fresh = _lock(
            post,
            actor,
            "withdraw",
            (Status.PUBLISHED,),
            expected_version=expected_version,
            state_message=_("Only a published post can be withdrawn."),
        )
        fresh.status = Status.WITHDRAWN
        fresh.withdrawn_at = timezone.now()
        fresh.withdrawn_by = actor
        fresh.withdraw_reason = reason
        fresh.pinned, fresh.pinned_at = False, None
        _save(fresh, ["status", "withdrawn_at", "withdrawn_by", "withdraw_reason", "pinned", "pinned_at"])
        _event(fresh, EventKind.WITHDRAWN, actor, from_status=Status.PUBLISHED, note=reason)
        if fresh.author_id and (actor is None or actor.pk != fresh.author_id):
            notify(
                [fresh.author_id],
                kind="dynamics_withdrawn",
                title=_("Your post was withdrawn: %(title)s") % {"title": fresh.title},
                body=reason,
                url=_detail_url(fresh),
            )
    return fresh


def post_pin(*, actor, post: Post, pinned: bool = True, expected_version=None) -> Post:
    """Pin a published post to the top of its residents' list (or unpin it)."""
    with transaction.atomic():
        fresh = _lock(
            post,
            actor,
            "pin",
            (Status.PUBLISHED,),
            expected_version=expected_version,
            author_perm="dynamics.pin_post",
            state_message=_("Only a published post can be pinned."),
        )
        if fresh.pinned == bool(pinned):
            return fresh
        fresh.pinned = bool(pinned)
        fresh.pinned_at = timezone.now() if pinned else None
        _save(fresh, ["pinned", "pinned_at"])
        _event(fresh, EventKind.PINNED if pinned else EventKind.UNPINNED, actor, from_status=fresh.status)
    return fresh


def post_delete(*, actor, post: Post) -> None:
    """Delete a draft with its pictures. A post that was published is withdrawn, never deleted:
    what residents were shown stays on record."""
    with transaction.atomic():
        fresh = _lock(
            post,
            actor,
            "delete",
            (Status.DRAFT,),
            author_perm="dynamics.delete_post",
            state_message=_("Only a draft can be deleted; withdraw a published post instead."),
        )
        files = _picture_files(fresh.pictures.all())
        fresh.delete()
        _discard_files_on_commit(files)


def post_record_view(*, post: Post) -> None:
    """Count one view of a published post by a reader (a counter, not an audited change)."""
    Post.objects.filter(pk=post.pk, status=Status.PUBLISHED).update(view_count=F("view_count") + 1)
