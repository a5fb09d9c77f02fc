"""Staff pages of work dynamics (工作动态) in the back office: the list with filters, the editor
with picture upload, the post page with its preview as residents see it, the steps the user may
take (publish, pin, withdraw with a reason, delete a draft) and its history. Plus the picture
view every reader of a post goes through (pictures are never public media URLs)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views import View

from civicgrid.accounts.choices import UserType
from civicgrid.core.files import private_file_response
from civicgrid.core.services import ConflictError
from civicgrid.core.views import ScopedDetailView, ScopedListView, StaffPageMixin, add_form_errors

from . import selectors, services
from .choices import PictureKind, Status
from .forms import PostFilterForm, PostForm, WithdrawForm
from .models import MAX_PICTURES, Post, PostPicture


class NoResidentsMixin:
    """The back office is for staff; residents read work dynamics in the portal."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if user.is_authenticated and getattr(user, "user_type", "") == UserType.RESIDENT:
            raise PermissionDenied(_("Your role does not include this page."))
        return super().dispatch(request, *args, **kwargs)


def split_pictures(pictures) -> tuple[PostPicture | None, list[PostPicture]]:
    cover = next((p for p in pictures if p.kind == PictureKind.COVER), None)
    return cover, [p for p in pictures if p.kind == PictureKind.PICTURE]


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _editor_context(form, **extra) -> dict:
    removing = (
        [str(v) for v in (form["remove_pictures"].value() or [])] if "remove_pictures" in form.fields else []
    )
    return {"form": form, "max_pictures": MAX_PICTURES, "removing": removing, **extra}


# ---- list ------------------------------------------------------------------------------------


class PostListView(NoResidentsMixin, ScopedListView):
    """Every post in the user's scope, newest first, filtered by text, status, area, pin and date."""

    model = Post
    template_name = "dynamics/post_list.html"
    paginate_by = 30

    def get_queryset(self):
        user = self.request.user
        self.form = PostFilterForm(self.request.GET or None, user=user)
        qs = selectors.staff_posts(user).order_by("-id")
        if not self.form.is_bound:
            return qs
        if not self.form.is_valid():
            return qs.none()
        return self.form.apply(qs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            form=self.form,
            query=_query_without_page(self.request),
            can_add=self.request.user.has_perm("dynamics.add_post")
            and selectors.authorable_areas(self.request.user).exists(),
        )
        return ctx


# ---- editor ----------------------------------------------------------------------------------


class PostCreateView(NoResidentsMixin, StaffPageMixin, View):
    """Write a new post: saved as a draft, or published at once."""

    required_perms = ("dynamics.add_post",)
    template_name = "dynamics/post_form.html"

    def _form(self, data=None, files=None):
        form = PostForm(data, files, user=self.request.user)
        areas = list(form.fields["area"].queryset[:2])
        if data is None and len(areas) == 1:
            form.initial["area"] = areas[0].pk
        return form

    def get(self, request, form=None, status=200):
        form = form or self._form()
        if not form.fields["area"].queryset.exists():
            raise PermissionDenied(_("You do not post work dynamics for any community or street."))
        return render(
            request,
            self.template_name,
            _editor_context(form, post=None, can_publish=request.user.has_perm("dynamics.publish_post")),
            status=status,
        )

    def post(self, request):
        form = self._form(request.POST, request.FILES)
        publish = request.POST.get("op") == "publish"
        if form.is_valid():
            d = form.cleaned_data
            try:
                post = services.post_draft(
                    actor=request.user,
                    area=d["area"],
                    title=d["title"],
                    body=d["body"],
                    cover=d.get("cover"),
                    pictures=d["pictures"],
                    publish=publish,
                )
            except ValidationError as exc:
                add_form_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error("area", str(exc))
            else:
                if publish:
                    messages.success(request, _("Published: residents see it now."))
                else:
                    messages.success(request, _("Draft saved. Check the preview, then publish it."))
                return redirect("dynamics:detail", pk=post.pk)
        return self.get(request, form, status=400)


class PostEditView(NoResidentsMixin, StaffPageMixin, View):
    """Edit a post of the user's own community or street (a published one stays published)."""

    required_perms = ("dynamics.change_post",)
    template_name = "dynamics/post_form.html"

    def get_post(self, pk) -> Post:
        post = get_object_or_404(
            Post.objects.visible_to(self.request.user, "change").select_related("area"), pk=pk
        )
        if not services.can_author(self.request.user, "dynamics.change_post", post.area_code):
            raise PermissionDenied(_("Only the community or street that posts it may do this."))
        return post

    def _form(self, post, pictures, data=None, files=None):
        initial = {
            "area": post.area_id,
            "title": post.title,
            "body": post.body,
            "expected_version": post.version,
        }
        return PostForm(data, files, user=self.request.user, post=post, existing=pictures, initial=initial)

    def get(self, request, pk, form=None, conflict=None, status=200):
        post = self.get_post(pk)
        pictures = selectors.pictures_of(post)
        cover, gallery = split_pictures(pictures)
        return render(
            request,
            self.template_name,
            _editor_context(
                form or self._form(post, pictures),
                post=post,
                cover=cover,
                gallery=gallery,
                conflict=conflict,
                can_publish=post.status != Status.PUBLISHED
                and request.user.has_perm("dynamics.publish_post")
                and services.can_author(request.user, "dynamics.publish_post", post.area_code),
            ),
            status=status,
        )

    def post(self, request, pk):
        post = self.get_post(pk)
        pictures = selectors.pictures_of(post)
        form = self._form(post, pictures, request.POST, request.FILES)
        publish = (
            request.POST.get("op") == "publish"
            and post.status != Status.PUBLISHED
            and request.user.has_perm("dynamics.publish_post")
            and services.can_author(request.user, "dynamics.publish_post", post.area_code)
        )
        if not form.is_valid():
            return self.get(request, pk, form=form, status=400)
        d = form.cleaned_data
        if publish and not services.clean_body(d["body"]):
            form.add_error("body", _("Write the text before publishing."))
            return self.get(request, pk, form=form, status=400)
        changes = {"title": d["title"], "body": d["body"]}
        if post.status == Status.DRAFT:
            changes["area"] = d["area"]
        try:
            with transaction.atomic():
                post = services.post_edit(
                    actor=request.user,
                    post=post,
                    expected_version=d.get("expected_version"),
                    cover=d.get("cover"),
                    remove_cover=d.get("remove_cover", False),
                    pictures=d["pictures"],
                    remove_pictures=d.get("remove_pictures") or (),
                    **changes,
                )
                if publish:
                    post = services.post_publish(actor=request.user, post=post)
        except ValidationError as exc:
            add_form_errors(form, exc)
            return self.get(request, pk, form=form, status=400)
        except ConflictError as exc:
            return self.get(request, pk, form=form, conflict=exc.message, status=409)
        messages.success(request, _("Published: residents see it now.") if publish else _("Changes saved."))
        return redirect("dynamics:detail", pk=post.pk)


# ---- the post page ---------------------------------------------------------------------------


class PostDetailView(NoResidentsMixin, ScopedDetailView):
    """A post as residents will see it (preview), its facts, the steps the user may take and its
    history. Steps are POSTed here with ``op``."""

    model = Post
    template_name = "dynamics/post_detail.html"
    context_object_name = "post"

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("area__parent", "author", "published_by", "withdrawn_by", "created_by")
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        post = self.object
        cover, gallery = split_pictures(selectors.pictures_of(post))
        ctx.update(
            cover=cover,
            gallery=gallery,
            history=list(selectors.history(post)),
            steps=selectors.available_steps(post, self.request.user),
            withdraw_form=kwargs.get("withdraw_form")
            or WithdrawForm(initial={"expected_version": post.version}),
            conflict=kwargs.get("conflict"),
        )
        return ctx

    def post(self, request, pk):
        self.object = post = self.get_object()
        op = request.POST.get("op", "")
        version = request.POST.get("expected_version") or None
        user = request.user
        try:
            if version is not None:
                version = int(version)
        except ValueError:
            version = None
        try:
            if op == "publish":
                services.post_publish(actor=user, post=post, expected_version=version)
                messages.success(request, _("Published: residents see it now."))
            elif op in ("pin", "unpin"):
                services.post_pin(actor=user, post=post, pinned=op == "pin", expected_version=version)
                messages.success(request, _("Pinned to the top.") if op == "pin" else _("No longer pinned."))
            elif op == "withdraw":
                form = WithdrawForm(request.POST)
                if not form.is_valid():
                    return self._again(withdraw_form=form)
                try:
                    services.post_withdraw(
                        actor=user, post=post, reason=form.cleaned_data["reason"], expected_version=version
                    )
                except ValidationError as exc:
                    add_form_errors(form, exc)
                    return self._again(withdraw_form=form)
                messages.success(request, _("Withdrawn: residents no longer see it."))
            elif op == "delete":
                services.post_delete(actor=user, post=post)
                messages.success(request, _("Draft deleted."))
                return redirect("dynamics:list")
            else:
                return self._again(conflict=_("Unknown step."), status=400)
        except ConflictError as exc:
            return self._again(conflict=exc.message, status=409)
        except ValidationError as exc:
            return self._again(conflict=" ".join(exc.messages), status=400)
        return redirect("dynamics:detail", pk=post.pk)

    def _again(self, status=400, **extra):
        self.object = self.get_object()
        return self.render_to_response(self.get_context_data(**extra), status=status)


# ---- pictures --------------------------------------------------------------------------------


class PictureView(View):
    """A picture of a post the user may open: staff in scope, and residents and grid workers for
    the published posts of their community and street. ``?size=thumb`` for the small copy."""

    def get(self, request, pk):
        readable = selectors.readable_posts(request.user).values("pk")
        picture = get_object_or_404(PostPicture.objects.filter(post__in=readable), pk=pk)
        field = (
            picture.thumbnail if request.GET.get("size") == "thumb" and picture.thumbnail else picture.image
        )
        return private_file_response(field)
