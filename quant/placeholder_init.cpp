// Keeps the library non-empty until the quant sources land (removed then).
namespace moeckpt::quant_detail { int placeholder = 0; }
