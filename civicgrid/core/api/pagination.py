from collections import OrderedDict

from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from civicgrid.core.pagination import COUNT_CAP, CappedPaginator


class StandardPagination(PageNumberPagination):
    """Page-number pagination whose ``count`` stops at COUNT_CAP (then ``count_capped`` is true)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            OrderedDict(
                [
                    ("count", min(paginator.count, COUNT_CAP)),
                    ("count_capped", paginator.count_capped),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        result["properties"]["count_capped"] = {"type": "boolean", "example": False}
        return result
