// The outcome of one privilege step: 0, or the errno and the call that failed, so that the JS side
// can say exactly what was not applied ("setresuid: Operation not permitted").
#ifndef DOCKER_PROXY_HARDEN_STEP_H_
#define DOCKER_PROXY_HARDEN_STEP_H_

namespace harden {

struct Step {
  int error = 0;                 // errno of the failed call; 0 when every call succeeded
  const char* call = nullptr;    // the failed call's name

  bool ok() const { return error == 0; }
  static Step Failed(int e, const char* name) { return Step{e, name}; }
};

}  // namespace harden

#endif  // DOCKER_PROXY_HARDEN_STEP_H_
