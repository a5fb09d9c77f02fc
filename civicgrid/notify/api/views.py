"""The caller's own notifications: list them, mark some or all read. Nobody reads another
user's notifications through here, whatever their role. Staff also bind their own addresses:
list them, verify a mobile number with a one-time code, remove one."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from civicgrid.accounts.choices import UserType
from civicgrid.core.api.permissions import AgreementRequired
from civicgrid.core.middleware import client_ip

from .. import otp, selectors, services
from ..backends import mask_address
from ..choices import Channel
from .serializers import (
    ChannelAddressSerializer,
    MarkReadResultSerializer,
    MarkReadSerializer,
    NotificationSerializer,
    PhoneCodeSerializer,
    PhoneSerializer,
    VerificationStartedSerializer,
)


class OwnDataPermission(permissions.BasePermission):
    """Signed in (staff or resident, with or without a post); staff still accept the
    confidentiality agreement first, as everywhere in the API."""

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        from civicgrid.accounts.selectors import needs_agreement

        if needs_agreement(user):
            raise AgreementRequired()
        return True


def _truthy(value) -> bool:
    return str(value).lower() in {"1", "true", "yes"}


class NotificationListView(generics.ListAPIView):
    """Newest first; ``?unread=true`` for the unread ones only."""

    serializer_class = NotificationSerializer
    permission_classes = [OwnDataPermission]
    filter_backends = []

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="Only unread notifications.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.inbox(
            self.request.user, unread_only=_truthy(self.request.query_params.get("unread"))
        )


class NotificationReadView(APIView):
    """Mark notifications read: ``{"ids": [1, 2]}`` or ``{"all": true}``. Ids of other users'
    notifications are ignored. Answers how many were marked and how many stay unread."""

    permission_classes = [OwnDataPermission]

    @extend_schema(request=MarkReadSerializer, responses=MarkReadResultSerializer)
    def post(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = None if data.validated_data.get("all") else data.validated_data["ids"]
        marked = services.mark_read(user=request.user, ids=ids)
        return Response({"marked": marked, "unread": selectors.unread_count(request.user)})


# ---- the caller's addresses ------------------------------------------------------------------


class StaffOnly(exceptions.PermissionDenied):
    default_detail = _("Only staff bind their notification addresses here.")
    default_code = "staff_only"


class OwnStaffAddressPermission(OwnDataPermission):
    """Signed in as staff (residents' numbers are their sign-in and change only there)."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        if request.user.user_type != UserType.STAFF:
            raise StaffOnly()
        return True


class CodeRateLimited(exceptions.APIException):
    """429 naming the field, with ``Retry-After`` (DRF sets it from ``wait``)."""

    status_code = 429
    default_code = "throttled"

    def __init__(self, exc: otp.RateLimited):
        super().__init__({"phone": [exc.message]})
        self.wait = exc.retry_after


class CodeNotSent(exceptions.APIException):
    status_code = 503
    default_detail = _("The code could not be sent just now. Please try again in a minute.")
    default_code = "sms_unavailable"


ERRORS = {
    400: OpenApiResponse(description='A field is wrong: `{"phone": […]}` or `{"code": […]}`.'),
    403: OpenApiResponse(description="Not staff, or the confidentiality agreement is not accepted."),
}


class AddressListView(generics.ListAPIView):
    """The caller's addresses, one per channel at most, masked (`138****5678`). Only verified
    addresses receive notifications."""

    serializer_class = ChannelAddressSerializer
    permission_classes = [OwnStaffAddressPermission]
    filter_backends = []

    def get_queryset(self):
        return selectors.addresses_of(self.request.user)


class SMSVerificationView(APIView):
    """Send a 6-digit code to `phone`, the mobile number the caller wants SMS notifications on
    (their current number stays in use until the new one is confirmed). Rate-limited per number,
    per caller and per client address: 429 with `Retry-After`."""

    permission_classes = [OwnStaffAddressPermission]

    @extend_schema(
        request=PhoneSerializer,
        responses={
            202: VerificationStartedSerializer,
            **ERRORS,
            429: OpenApiResponse(description='Too many codes: `{"phone": […]}`, header `Retry-After`.'),
            503: OpenApiResponse(description="The SMS sender failed; try again later."),
        },
    )
    def post(self, request):
        data = PhoneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            code = services.sms_verification_start(
                user=request.user, phone=data.validated_data["phone"], ip=client_ip(request)
            )
        except otp.RateLimited as exc:
            raise CodeRateLimited(exc)
        except otp.SendFailed:
            raise CodeNotSent()
        phone = otp.clean_phone(data.validated_data["phone"])
        return Response(
            {"masked_phone": mask_address(phone), "expires_at": code.expires_at},
            status=status.HTTP_202_ACCEPTED,
        )


class SMSConfirmView(APIView):
    """Confirm the number with the code it received: it becomes the caller's verified SMS address
    (replacing the previous one). A code allows 5 attempts, expires after a few minutes and works
    once; 400 on `code` says which."""

    permission_classes = [OwnStaffAddressPermission]

    @extend_schema(request=PhoneCodeSerializer, responses={200: ChannelAddressSerializer, **ERRORS})
    def post(self, request):
        data = PhoneCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.sms_verification_confirm(
            user=request.user, phone=data.validated_data["phone"], code=data.validated_data["code"]
        )
        row = next(r for r in selectors.addresses_of(request.user) if r.channel == Channel.SMS)
        return Response(ChannelAddressSerializer(row).data)


class AddressDetailView(APIView):
    """One of the caller's addresses by channel (`sms`, `wechat`); DELETE removes it (nothing is
    sent there any more). 404 when the caller has none on that channel."""

    permission_classes = [OwnStaffAddressPermission]

    def _row(self, request, channel):
        row = next((r for r in selectors.addresses_of(request.user) if r.channel == channel), None)
        if channel not in Channel.values or row is None:
            raise Http404
        return row

    @extend_schema(
        parameters=[OpenApiParameter("channel", str, OpenApiParameter.PATH, enum=Channel.values)],
        responses={200: ChannelAddressSerializer, 403: ERRORS[403]},
    )
    def get(self, request, channel):
        return Response(ChannelAddressSerializer(self._row(request, channel)).data)

    @extend_schema(
        parameters=[OpenApiParameter("channel", str, OpenApiParameter.PATH, enum=Channel.values)],
        responses={204: None, 403: ERRORS[403]},
    )
    def delete(self, request, channel):
        self._row(request, channel)
        services.address_delete(actor=request.user, user=request.user, channel=channel)
        return Response(status=status.HTTP_204_NO_CONTENT)
