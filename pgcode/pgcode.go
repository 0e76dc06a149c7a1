// Package pgcode holds PostgreSQL's SQLSTATE codes and Error, an error that
// carries one. Every package may return an *Error; only the wire layer turns
// errors into ErrorResponse messages, using Code for anything else
// (XX000, internal_error).
package pgcode

import (
	"errors"
	"fmt"
)

// Code is a five-character SQLSTATE.
type Code string

// SQLSTATE codes used by viewd (PostgreSQL's Appendix A).
const (
	SuccessfulCompletion            Code = "00000"
	Warning                         Code = "01000"
	NoData                          Code = "02000"
	ConnectionException             Code = "08000"
	ProtocolViolation               Code = "08P01"
	FeatureNotSupported             Code = "0A000"
	CardinalityViolation            Code = "21000"
	DataException                   Code = "22000"
	StringDataRightTruncation       Code = "22001"
	NumericValueOutOfRange          Code = "22003"
	NullValueNotAllowed             Code = "22004"
	InvalidDatetimeFormat           Code = "22007"
	DatetimeFieldOverflow           Code = "22008"
	InvalidTimeZoneDisplacement     Code = "22009"
	ArraySubscriptError             Code = "2202E"
	InvalidParameterValue           Code = "22023"
	DivisionByZero                  Code = "22012"
	IntervalFieldOverflow           Code = "22015"
	InvalidEscapeSequence           Code = "22025"
	InvalidTextRepresentation       Code = "22P02"
	InvalidBinaryRepresentation     Code = "22P03"
	CharacterNotInRepertoire        Code = "22021"
	InvalidRegularExpression        Code = "2201B"
	InvalidRowCountInLimit          Code = "2201W"
	InvalidRowCountInResultOffset   Code = "2201X"
	UntranslatableCharacter         Code = "22P05"
	InvalidJSONText                 Code = "22P02"
	IntegrityConstraintViolation    Code = "23000"
	NotNullViolation                Code = "23502"
	ForeignKeyViolation             Code = "23503"
	UniqueViolation                 Code = "23505"
	CheckViolation                  Code = "23514"
	InvalidCursorState              Code = "24000"
	InvalidTransactionState         Code = "25000"
	ActiveSQLTransaction            Code = "25001"
	ReadOnlySQLTransaction          Code = "25006"
	NoActiveSQLTransaction          Code = "25P01"
	InFailedSQLTransaction          Code = "25P02"
	InvalidSQLStatementName         Code = "26000"
	InvalidAuthorizationSpec        Code = "28000"
	InvalidGrantOperation           Code = "0LP01"
	ReservedName                    Code = "42939"
	InvalidCursorName               Code = "34000"
	InvalidCatalogName              Code = "3D000"
	InvalidSchemaName               Code = "3F000"
	TransactionRollback             Code = "40000"
	SerializationFailure            Code = "40001"
	SyntaxErrorOrAccessRule         Code = "42000"
	SyntaxError                     Code = "42601"
	InsufficientPrivilege           Code = "42501"
	GroupingError                   Code = "42803"
	WindowingError                  Code = "42P20"
	InvalidRecursion                Code = "42P19"
	InvalidForeignKey               Code = "42830"
	InvalidName                     Code = "42602"
	NameTooLong                     Code = "42622"
	DatatypeMismatch                Code = "42804"
	IndeterminateDatatype           Code = "42P18"
	CollationMismatch               Code = "42P21"
	WrongObjectType                 Code = "42809"
	UndefinedColumn                 Code = "42703"
	UndefinedFunction               Code = "42883"
	UndefinedTable                  Code = "42P01"
	UndefinedParameter              Code = "42P02"
	UndefinedObject                 Code = "42704"
	DuplicateColumn                 Code = "42701"
	DuplicateCursor                 Code = "42P03"
	DuplicateDatabase               Code = "42P04"
	DuplicatePreparedStatement      Code = "42P05"
	DuplicateSchema                 Code = "42P06"
	DuplicateRelation               Code = "42P07"
	DuplicateObject                 Code = "42710"
	AmbiguousColumn                 Code = "42702"
	AmbiguousFunction               Code = "42725"
	AmbiguousAlias                  Code = "42P09"
	InvalidColumnReference          Code = "42P10"
	InvalidTableDefinition          Code = "42P16"
	InvalidObjectDefinition         Code = "42P17"
	DependentObjectsStillExist      Code = "2BP01"
	InvalidColumnDefinition         Code = "42611"
	InsufficientResources           Code = "53000"
	OutOfMemory                     Code = "53200"
	ProgramLimitExceeded            Code = "54000"
	ObjectNotInPrerequisiteState    Code = "55000"
	ObjectInUse                     Code = "55006"
	OperatorIntervention            Code = "57000"
	QueryCanceled                   Code = "57014"
	AdminShutdown                   Code = "57P01"
	CannotConnectNow                Code = "57P03"
	SystemError                     Code = "58000"
	IOError                         Code = "58030"
	ConfigFile                      Code = "F0000"
	InternalError                   Code = "XX000"
	DataCorrupted                   Code = "XX001"
	InvalidSQLStatement             Code = "07000" // dynamic SQL error class
	UndefinedPreparedStatement      Code = "26000"
	InvalidPreparedStatementDefinit Code = "42P14"
	BadCopyFileFormat               Code = "22P04"
	CantChangeRuntimeParam          Code = "55P02"
)

// Severity of a message, as ErrorResponse and NoticeResponse send it.
type Severity string

// Severities.
const (
	SeverityError   Severity = "ERROR"
	SeverityFatal   Severity = "FATAL"
	SeverityNotice  Severity = "NOTICE"
	SeverityWarning Severity = "WARNING"
)

// Error is an error with a SQLSTATE and optional detail, hint and position
// (1-based character offset into the statement text, 0 if none).
type Error struct {
	Code     Code
	Message  string
	Detail   string
	Hint     string
	Position int
	Severity Severity // empty means ERROR
	cause    error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the wrapped cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code whose message is msg, keeping err as the
// cause for errors.Is/As.
func Wrap(err error, code Code, msg string) *Error {
	return &Error{Code: code, Message: msg, cause: err}
}

// WithDetail sets the detail and returns e.
func (e *Error) WithDetail(format string, args ...any) *Error {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// WithHint sets the hint and returns e.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithPosition sets the 1-based position and returns e.
func (e *Error) WithPosition(pos int) *Error {
	e.Position = pos
	return e
}

// Of returns the SQLSTATE of err: the code of the first *Error in its chain,
// QueryCanceled for context cancellation, InternalError otherwise.
func Of(err error) Code {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return InternalError
}

// As returns the first *Error in err's chain, or a new InternalError one
// carrying err's message.
func As(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: InternalError, Message: err.Error(), cause: err}
}
