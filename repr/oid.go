package repr

// PostgreSQL type OIDs (pg_type.oid), as clients and the catalog see them.
const (
	OidBool        uint32 = 16
	OidBytea       uint32 = 17
	OidChar1       uint32 = 18 // "char", the one-byte internal type
	OidName        uint32 = 19
	OidInt8        uint32 = 20
	OidInt2        uint32 = 21
	OidInt2Vector  uint32 = 22
	OidInt4        uint32 = 23
	OidRegproc     uint32 = 24
	OidText        uint32 = 25
	OidOid         uint32 = 26
	OidOidVector   uint32 = 30
	OidJSON        uint32 = 114
	OidFloat4      uint32 = 700
	OidFloat8      uint32 = 701
	OidUnknown     uint32 = 705
	OidBpchar      uint32 = 1042
	OidVarchar     uint32 = 1043
	OidDate        uint32 = 1082
	OidTime        uint32 = 1083
	OidTimestamp   uint32 = 1114
	OidTimestampTz uint32 = 1184
	OidInterval    uint32 = 1186
	OidNumeric     uint32 = 1700
	OidRecord      uint32 = 2249
	OidUUID        uint32 = 2950
	OidJsonb       uint32 = 3802

	OidBoolArray        uint32 = 1000
	OidByteaArray       uint32 = 1001
	OidInt2Array        uint32 = 1005
	OidInt4Array        uint32 = 1007
	OidTextArray        uint32 = 1009
	OidBpcharArray      uint32 = 1014
	OidVarcharArray     uint32 = 1015
	OidInt8Array        uint32 = 1016
	OidFloat4Array      uint32 = 1021
	OidFloat8Array      uint32 = 1022
	OidOidArray         uint32 = 1028
	OidDateArray        uint32 = 1182
	OidTimeArray        uint32 = 1183
	OidTimestampArray   uint32 = 1115
	OidTimestampTzArray uint32 = 1185
	OidIntervalArray    uint32 = 1187
	OidNumericArray     uint32 = 1231
	OidUUIDArray        uint32 = 2951
	OidJsonbArray       uint32 = 3807
	OidRecordArray      uint32 = 2287
)

var kindOids = [kindCount]uint32{
	KindNull:        OidUnknown,
	KindBool:        OidBool,
	KindInt2:        OidInt2,
	KindInt4:        OidInt4,
	KindInt8:        OidInt8,
	KindFloat4:      OidFloat4,
	KindFloat8:      OidFloat8,
	KindNumeric:     OidNumeric,
	KindText:        OidText,
	KindVarchar:     OidVarchar,
	KindChar:        OidBpchar,
	KindBytea:       OidBytea,
	KindDate:        OidDate,
	KindTime:        OidTime,
	KindTimestamp:   OidTimestamp,
	KindTimestampTz: OidTimestampTz,
	KindInterval:    OidInterval,
	KindUUID:        OidUUID,
	KindJsonb:       OidJsonb,
	KindOid:         OidOid,
	KindRecord:      OidRecord,
}

var arrayOids = [kindCount]uint32{
	KindBool:        OidBoolArray,
	KindInt2:        OidInt2Array,
	KindInt4:        OidInt4Array,
	KindInt8:        OidInt8Array,
	KindFloat4:      OidFloat4Array,
	KindFloat8:      OidFloat8Array,
	KindNumeric:     OidNumericArray,
	KindText:        OidTextArray,
	KindVarchar:     OidVarcharArray,
	KindChar:        OidBpcharArray,
	KindBytea:       OidByteaArray,
	KindDate:        OidDateArray,
	KindTime:        OidTimeArray,
	KindTimestamp:   OidTimestampArray,
	KindTimestampTz: OidTimestampTzArray,
	KindInterval:    OidIntervalArray,
	KindUUID:        OidUUIDArray,
	KindJsonb:       OidJsonbArray,
	KindOid:         OidOidArray,
	KindRecord:      OidRecordArray,
}

// Oid returns the PostgreSQL type OID of t.
func (t ScalarType) Oid() uint32 {
	if t.Kind == KindArray {
		if t.Elem == nil || t.Elem.Kind >= kindCount {
			return 0
		}
		if t.IsVector() {
			switch t.Elem.Kind {
			case KindInt2:
				return OidInt2Vector
			case KindOid:
				return OidOidVector
			}
		}
		return arrayOids[t.Elem.Kind]
	}
	if t.Kind >= kindCount {
		return 0
	}
	return kindOids[t.Kind]
}

// TypeForOid returns the scalar type with PostgreSQL type OID oid.
func TypeForOid(oid uint32) (ScalarType, bool) {
	for k, o := range kindOids {
		if o == oid && o != 0 {
			return ScalarType{Kind: Kind(k), Typmod: NoTypmod}, true
		}
	}
	for k, o := range arrayOids {
		if o == oid && o != 0 {
			return ArrayOf(ScalarType{Kind: Kind(k), Typmod: NoTypmod}), true
		}
	}
	switch oid {
	case OidInt2Vector:
		return VectorOf(TypeInt2), true
	case OidOidVector:
		return VectorOf(TypeOid), true
	case OidName:
		return TypeText, true
	case OidJSON:
		return TypeJsonb, true
	}
	return ScalarType{}, false
}

// TypLen returns pg_type.typlen for t: the fixed width in bytes, or -1 for
// variable-length types.
func (t ScalarType) TypLen() int16 {
	switch t.Kind {
	case KindBool:
		return 1
	case KindInt2:
		return 2
	case KindInt4, KindFloat4, KindDate, KindOid:
		return 4
	case KindInt8, KindFloat8, KindTime, KindTimestamp, KindTimestampTz:
		return 8
	case KindInterval, KindUUID:
		return 16
	}
	return -1
}
