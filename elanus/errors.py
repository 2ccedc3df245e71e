"""One exception tree for everything elanus raises on purpose.

Every error carries the numeric Milvus status code (`code`) that clients match on; subclasses
inherit it. Only the protocol edges (server/grpc) turn these into wire statuses. Messages follow
Milvus's wording where it is known: a base text, then bracketed details, e.g.
``collection not found[database=default][collection=books]``.
"""

from __future__ import annotations

from typing import ClassVar


class ElanusError(Exception):
    """Base of every error elanus raises on purpose."""

    code: ClassVar[int] = 65535  # Milvus status.code; 65535 means unexpected
    retriable: ClassVar[bool] = False


class InternalError(ElanusError):
    code = 5  # merr.ErrServiceInternal


class Unsupported(ElanusError):
    """A call or option that elanus does not serve (yet); never a silent success."""

    code = 10  # merr.ErrServiceUnimplemented

    def __init__(self, detail: str) -> None:
        super().__init__(f"service unimplemented: {detail}")


class NotFound(ElanusError):
    code = 65535


class AlreadyExists(ElanusError):
    code = 65535


class InvalidArgument(ElanusError):
    """merr.ErrParameterInvalid: Milvus words these "<detail>: invalid parameter"."""

    code = 1100

    def __init__(self, detail: str, expected: object = None, actual: object = None) -> None:
        tail = f"[expected={expected}][actual={actual}]" if expected is not None else ""
        super().__init__(f"{detail}: invalid parameter{tail}" if detail
                         else f"invalid parameter{tail}")
        self.detail = detail


class UnexpectedError(ElanusError):
    """A failure Milvus reports as a plain error (code 65535) rather than a typed one."""

    code = 65535


class NotLoaded(ElanusError):
    code = 101  # merr.ErrCollectionNotLoaded


class Corruption(ElanusError):
    """A stored file failed its checksum or could not be decoded; named, never served."""

    code = 5

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"data corruption in {what}: {detail}")
        self.what = what


class DatabaseNameInvalid(InvalidArgument):
    code = 802  # merr.ErrDatabaseInvalidName

    def __init__(self, name: str, detail: str) -> None:
        Exception.__init__(self, f"{detail}: invalid database name[database={name}]")
        self.detail = detail


class DatabaseNotFound(NotFound):
    code = 800

    def __init__(self, name: str) -> None:
        super().__init__(f"database not found[database={name}]")
        self.name = name


class CollectionNotFound(NotFound):
    code = 100

    def __init__(self, name: str, database: str = "default", *, describing: bool = False) -> None:
        # DescribeCollection words it differently from every other RPC; clients match on both.
        base = "can't find collection" if describing else "collection not found"
        super().__init__(f"{base}[database={database}][collection={name}]")
        self.name, self.database = name, database


class CollectionNotLoaded(NotLoaded):
    def __init__(self, collection_id: int, operation: str = "") -> None:
        prefix = f"failed to {operation}: " if operation else ""
        super().__init__(f"{prefix}collection not loaded[collection={collection_id}]")
        self.collection_id = collection_id


class CollectionLoaded(ElanusError):
    code = 104  # merr.ErrCollectionLoaded

    def __init__(self, collection: str, detail: str) -> None:
        super().__init__(f"{detail}: collection already loaded[collection={collection}]")


class SchemaMismatch(ElanusError):
    """A write prepared against an older version of the collection's schema; pymilvus refreshes
    its cached schema and retries on this error."""

    code = 109  # merr.ErrCollectionSchemaMismatch

    def __init__(self, collection: str) -> None:
        super().__init__(f"collection schema mismatch[collection={collection}]")


class CollectionAlreadyExists(AlreadyExists):
    code = 65535

    def __init__(self, name: str, database: str = "default") -> None:
        super().__init__(
            f"create duplicate collection with different parameters, collection: {name}"
        )
        self.name, self.database = name, database


class AliasNotFound(NotFound):
    code = 1600  # merr.ErrAliasNotFound

    def __init__(self, alias: str, database: str = "default") -> None:
        super().__init__(f"alias not found[database={database}][alias={alias}]")
        self.alias = alias


class AliasConflict(AlreadyExists):
    code = 1601  # merr.ErrAliasCollectionNameConfilct

    def __init__(self, alias: str, database: str = "default") -> None:
        super().__init__(f"alias and collection name conflict[database={database}]"
                         f"[alias={alias}]")


class AliasAlreadyExists(AlreadyExists):
    code = 1602  # merr.ErrAliasAlreadyExist

    def __init__(self, alias: str, collection: str, database: str = "default") -> None:
        super().__init__(f"{alias} is alias to another collection: {collection}: alias already "
                         f"exist[database={database}][alias={alias}]")


class PartitionNotFound(NotFound):
    code = 200

    def __init__(self, name: str, collection: str) -> None:
        super().__init__(f"partition not found[partition={name}]")
        self.name, self.collection = name, collection


class PartitionNotLoaded(NotLoaded):
    code = 201  # merr.ErrPartitionNotLoaded

    def __init__(self, partition_id: int, operation: str = "") -> None:
        prefix = f"failed to {operation}: " if operation else ""
        super().__init__(f"{prefix}partition not loaded[partition={partition_id}]")
        self.partition_id = partition_id


class IndexNotFound(NotFound):
    code = 700

    def __init__(self, key: str, value: str) -> None:
        super().__init__(f"index not found[{key}={value}]")


class IndexAlreadyExists(AlreadyExists):
    code = 65535

    def __init__(self, field: str) -> None:
        super().__init__("CreateIndex failed: at most one distinct index is allowed per field")
        self.field = field


class IndexDuplicate(AlreadyExists):
    code = 702  # merr.ErrIndexDuplicate

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}: index duplicates")


class CollectionIllegalSchema(InvalidArgument):
    code = 105  # merr.ErrCollectionIllegalSchema

    def __init__(self, collection: str, detail: str) -> None:
        Exception.__init__(self, f"{detail}: illegal collection schema[collection={collection}]")
        self.detail = detail


class FieldNotFound(NotFound):
    code = 1100

    def __init__(self, field: str, collection: str = "") -> None:
        super().__init__(f"field {field} not exist: invalid parameter")
        self.field = field


class FieldNameInvalid(InvalidArgument):
    code = 1701  # merr.ErrFieldInvalidName

    def __init__(self, field: str, detail: str) -> None:
        Exception.__init__(self, f"Invalid field name: {field}. {detail}: field name invalid"
                                 f"[field={field}]")
        self.detail = detail


class DataInvalid(InvalidArgument):
    """Insert data that does not fit the schema."""

    code = 1100


class FilterInvalid(InvalidArgument):
    """A boolean expression that does not parse or does not type-check."""

    code = 1100

    def __init__(self, expression: str, detail: str, offset: int | None = None,
                 plan: str = "query") -> None:
        where = f" (at offset {offset})" if offset is not None else ""
        Exception.__init__(self, f"failed to create {plan} plan: cannot parse expression: "
                                 f"{expression}, error: {detail}{where}: invalid parameter")
        self.detail, self.expression, self.offset = detail, expression, offset


class NotBoolean(FilterInvalid):
    """A filter whose predicate is a bare value that is not boolean, worded as Milvus words it."""

    def __init__(self, predicate: str, data_type: str, offset: int | None = None,
                 plan: str = "query") -> None:
        Exception.__init__(self, f"failed to create {plan} plan: predicate is not a boolean "
                                 f"expression: {predicate}, data type: {data_type}: invalid "
                                 "parameter")
        self.detail, self.expression, self.offset = "not boolean", predicate, offset


class MetricTypeMismatch(InvalidArgument):
    def __init__(self, index_metric: str, search_metric: str) -> None:
        super().__init__("metric type not match", index_metric, search_metric)


class DataDirLocked(ElanusError):
    code = 1  # merr.ErrServiceNotReady

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(f"data directory {path} is locked by another process ({holder})")
        self.path, self.holder = path, holder
