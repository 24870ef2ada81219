#include "shmlease/holding.h"

namespace shmlease {

Holding::Holding(std::shared_ptr<Store> store, Key key, std::string holder)
    : store_(std::move(store)), key_(std::move(key)), holder_(std::move(holder)) {}

}  // namespace shmlease
