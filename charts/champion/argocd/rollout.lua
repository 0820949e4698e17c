-- Argo CD health for champion.dev/Rollout: phase first, then the conditions.
local hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then return hs end
local phase = obj.status.phase
local message = obj.status.message or phase
if obj.status.observedGeneration ~= nil and obj.metadata.generation ~= nil
   and obj.status.observedGeneration < obj.metadata.generation then
  return {status = "Progressing", message = "The operator has not seen the latest spec yet"}
end
if phase == "Succeeded" then
  return {status = "Healthy", message = message}
elseif phase == "Paused" then
  return {status = "Suspended", message = message}
elseif phase == "RolledBack" or phase == "Aborted" or phase == "CapacityPending" then
  return {status = "Degraded", message = message}
end
return {status = "Progressing", message = message}
