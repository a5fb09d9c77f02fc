"""Pagination with a capped count: a list counts at most COUNT_CAP rows and then says "10,000+".

An exact count over a district's or the city's rows costs time in proportion to the rows in scope;
nobody pages through more than ten thousand rows, they filter instead."""

from functools import cached_property

from django.core.paginator import Paginator

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if hasattr(object_list, "for_count"):
            object_list = object_list.for_count()
        if hasattr(object_list, "order_by"):
            return object_list.order_by()[: COUNT_CAP + 1].count()
        return len(object_list)

    @property
    def count_capped(self) -> bool:
        return self.count > COUNT_CAP
